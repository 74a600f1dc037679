"""No two aliases of one model may differ only in case (see registry.selectors for the rule).

Before the rule, the alias dialog could add `champion -> v4` beside `Champion -> v2` when the user meant to move
`Champion`. Such case twins are merged first, so the constraint can be created: the alias set most recently
(the user's latest intent) is kept with its spelling and version, the older spellings are deleted, and each
merge is written to the audit log."""

from django.db import migrations, models
from django.db.models.functions import Lower


def merge_case_twins(apps, schema_editor):
    ModelAlias = apps.get_model("registry", "ModelAlias")
    AuditEvent = apps.get_model("registry", "AuditEvent")
    groups: dict[tuple[int, str], list] = {}
    for alias in ModelAlias.objects.select_related("version").order_by("model_id", "-updated_at", "-pk"):
        groups.setdefault((alias.model_id, alias.alias.lower()), []).append(alias)
    for (model_id, _), aliases in groups.items():
        kept, dropped = aliases[0], aliases[1:]
        for alias in dropped:
            AuditEvent.objects.create(
                actor_name="system", action="registered_model.merge_alias_case_twins", object_type="registeredmodel",
                object_id=str(model_id), outcome="success", via="migration",
                parameters={"kept_alias": kept.alias, "kept_version": kept.version.version,
                            "deleted_alias": alias.alias, "deleted_version": alias.version.version},
                message=f"Aliases may not differ only in case: '{alias.alias}' (version {alias.version.version}) "
                        f"was merged into '{kept.alias}' (version {kept.version.version}), set more recently.",
            )
            alias.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0005_logged_model_owner_and_frozen_sources"),
    ]

    operations = [
        migrations.RunPython(merge_case_twins, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="modelalias",
            name="alias_unique_in_model",
        ),
        migrations.AddConstraint(
            model_name="modelalias",
            constraint=models.UniqueConstraint("model", Lower("alias"), name="alias_unique_in_model_ignoring_case"),
        ),
    ]
