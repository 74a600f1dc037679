# Comments on models and versions, follows of models and schemas, and the outbox of notification emails
# (registry/models/comments.py, registry/models/follows.py).
import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0014_approvals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Follow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("events", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("model", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="follows", to="registry.registeredmodel")),
                ("schema", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                             related_name="follows", to="registry.schema")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="follows",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.CreateModel(
            name="NotificationEmail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("email_id", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("event", models.CharField(max_length=64)),
                ("subject", models.CharField(max_length=300)),
                ("body", models.TextField()),
                ("state", models.CharField(choices=[("PENDING", "Pending"), ("SENDING", "Sending"), ("SENT", "Sent"),
                                                    ("FAILED", "Failed"), ("SKIPPED", "Skipped")],
                                           db_index=True, default="PENDING", max_length=16)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField()),
                ("celery_task_id", models.CharField(blank=True, default="", max_length=64)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True, default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("follow", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                             related_name="emails", to="registry.follow")),
                ("model", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="+", to="registry.registeredmodel")),
                ("recipient", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
        migrations.CreateModel(
            name="Comment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("body", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("edited_at", models.DateTimeField(blank=True, null=True)),
                ("author", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                             related_name="+", to=settings.AUTH_USER_MODEL)),
                ("model", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="comments",
                                            to="registry.registeredmodel")),
                ("version", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE,
                                              related_name="comments", to="registry.modelversion")),
            ],
            options={
                "ordering": ["created_at", "id"],
                "indexes": [models.Index(fields=["model", "version", "created_at"], name="comment_thread")],
            },
        ),
        migrations.AddConstraint(
            model_name="follow",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("model__isnull", False), ("schema__isnull", True)),
                                   models.Q(("model__isnull", True), ("schema__isnull", False)), _connector="OR"),
                name="follow_model_xor_schema"),
        ),
        migrations.AddConstraint(
            model_name="follow",
            constraint=models.UniqueConstraint(condition=models.Q(("model__isnull", False)), fields=("user", "model"),
                                               name="follow_one_per_model"),
        ),
        migrations.AddConstraint(
            model_name="follow",
            constraint=models.UniqueConstraint(condition=models.Q(("schema__isnull", False)),
                                               fields=("user", "schema"), name="follow_one_per_schema"),
        ),
        migrations.AddIndex(
            model_name="notificationemail",
            index=models.Index(fields=["state", "next_attempt_at"], name="notification_email_due"),
        ),
    ]
