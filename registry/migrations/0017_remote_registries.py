# Remote registries (docs/remote-registry.md): a user's own connections to other deployments (token encrypted at
# rest), and the job kind that imports a remote version.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0016_artifacts_migration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(choices=[("register", "Register"), ("copy", "Copy"), ("migrate", "Migrate"),
                                            ("delete_artifacts", "Delete Artifacts"),
                                            ("move_artifacts", "Move Artifacts"), ("import", "Import")],
                                   max_length=32),
        ),
        migrations.CreateModel(
            name="RemoteRegistry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=64)),
                ("base_url", models.CharField(max_length=2000)),
                ("token_encrypted", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("owner", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                            to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "ordering": ["name"],
                "constraints": [models.UniqueConstraint(fields=("owner", "name"), name="remote_registry_unique_name")],
            },
        ),
    ]
