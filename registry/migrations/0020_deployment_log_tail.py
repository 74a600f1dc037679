from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0019_change_counter")]
    operations = [
        migrations.AddField(model_name="servingdeployment", name="log_tail",
                            field=models.TextField(blank=True, default="")),
    ]
