"""An index for "the newest version of a model in a stage" (a model's latest versions, shown in every model list
and returned by the MLflow search): one short backward index scan per model and stage instead of reading and
sorting all of the model's versions."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_artifact_manifest")]

    operations = [
        migrations.AddIndex(
            model_name="modelversion",
            index=models.Index(fields=["model", "current_stage", "version"], name="version_newest_in_stage"),
        ),
    ]
