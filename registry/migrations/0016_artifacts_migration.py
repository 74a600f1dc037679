# Moving a deployment's artifacts onto object storage (manage.py artifacts_migrate): the switch row that
# registry.storage reads, and the job kind of the move.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0015_comments_follows")]
    operations = [
        migrations.CreateModel(
            name="ArtifactStoreSwitch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("store", models.CharField(blank=True, default="", max_length=1024)),
                ("frozen", models.BooleanField(default=False)),
                ("moving_to", models.CharField(blank=True, default="", max_length=1024)),
                ("switched_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(choices=[("register", "Register"), ("copy", "Copy"), ("migrate", "Migrate"),
                                            ("delete_artifacts", "Delete Artifacts"),
                                            ("move_artifacts", "Move Artifacts")], max_length=32),
        ),
    ]
