# Placeholder in a fixed chain so that parts built at the same time each own one migration. Operations are added
# by the work that needs them.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("registry", "0012_upload_area_directories")]
    operations = []
