# The prompt registry: a registered model is a model or a prompt (MLflow's `mlflow.prompt.is_prompt` tag, kept as
# a column so every list can separate them in SQL). Existing rows tagged as prompts become prompts.
from django.db import migrations, models


def mark_tagged_prompts(apps, schema_editor):
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    RegisteredModel.objects.filter(tags__key="mlflow.prompt.is_prompt", tags__value__iexact="true").update(kind="prompt")


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_upload_area_directories")]
    operations = [
        migrations.AddField(
            model_name="registeredmodel",
            name="kind",
            field=models.CharField(choices=[("model", "Model"), ("prompt", "Prompt")], default="model", max_length=8),
        ),
        migrations.AddIndex(
            model_name="registeredmodel",
            index=models.Index(fields=["kind", "name"], name="model_kind_name"),
        ),
        migrations.RunPython(mark_tagged_prompts, migrations.RunPython.noop),
    ]
