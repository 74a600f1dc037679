# Approvals (registry/models/approvals.py): protected aliases, a model's approval policy, alias-change requests and
# stage transition requests.
import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

_STATES = [("PENDING", "Pending"), ("APPROVED", "Approved"), ("REJECTED", "Rejected"), ("CANCELLED", "Cancelled")]
_STAGES = [("None", "None"), ("Staging", "Staging"), ("Production", "Production"), ("Archived", "Archived")]


def _user(**kwargs):
    return models.ForeignKey(on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL,
                             **kwargs)


def _request_fields():
    return [
        ("state", models.CharField(choices=_STATES, default="PENDING", max_length=16)),
        ("comment", models.TextField(blank=True, default="")),
        ("created_at", models.DateTimeField(auto_now_add=True)),
        ("decided_at", models.DateTimeField(blank=True, null=True)),
        ("decision_comment", models.TextField(blank=True, default="")),
        ("updated_at", models.DateTimeField(auto_now=True)),
        ("requested_by", _user(null=True)),
        ("decided_by", _user(blank=True, null=True)),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0013_prompts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ProtectedAlias",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("alias", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("created_by", _user(blank=True, null=True)),
                ("model", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                            related_name="protected_aliases", to="registry.registeredmodel")),
            ],
            options={
                "ordering": ["alias"],
                "constraints": [models.UniqueConstraint(models.F("model"), django.db.models.functions.text.Lower("alias"),
                                                        name="protected_alias_unique_ignoring_case")],
            },
        ),
        migrations.CreateModel(
            name="ApprovalPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("transitions_need_approval", models.BooleanField(default=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("model", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                               related_name="approval_policy", to="registry.registeredmodel")),
                ("updated_by", _user(blank=True, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="AliasChangeRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                *_request_fields(),
                ("alias", models.CharField(max_length=255)),
                ("action", models.CharField(choices=[("MOVE", "Move"), ("DELETE", "Delete")], default="MOVE",
                                            max_length=8)),
                ("version", models.PositiveIntegerField(blank=True, null=True)),
                ("from_version", models.PositiveIntegerField(blank=True, null=True)),
                ("model", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="alias_requests",
                                            to="registry.registeredmodel")),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [models.Index(fields=["model", "state"], name="alias_request_model_state")],
            },
        ),
        migrations.CreateModel(
            name="StageTransitionRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                *_request_fields(),
                ("to_stage", models.CharField(choices=_STAGES, max_length=16)),
                ("from_stage", models.CharField(choices=_STAGES, default="None", max_length=16)),
                ("archive_existing_versions", models.BooleanField(default=False)),
                ("version", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                              related_name="transition_requests", to="registry.modelversion")),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "constraints": [models.UniqueConstraint(condition=models.Q(("state", "PENDING")),
                                                        fields=("version", "to_stage", "requested_by"),
                                                        name="transition_request_one_open_per_creator")],
            },
        ),
    ]
