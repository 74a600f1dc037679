"""Catalogs, schemas and the grants that govern everything below them."""
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q

from registry.models.base import Securable


class Privilege(models.TextChoices):
    USE_CATALOG = "USE_CATALOG", "USE CATALOG"
    USE_SCHEMA = "USE_SCHEMA", "USE SCHEMA"
    CREATE_SCHEMA = "CREATE_SCHEMA", "CREATE SCHEMA"
    CREATE_MODEL = "CREATE_MODEL", "CREATE MODEL"
    EXECUTE = "EXECUTE", "EXECUTE"
    APPLY_TAG = "APPLY_TAG", "APPLY TAG"
    MANAGE = "MANAGE", "MANAGE"
    ALL_PRIVILEGES = "ALL_PRIVILEGES", "ALL PRIVILEGES"


class Catalog(Securable):
    name = models.CharField(max_length=255, unique=True)
    comment = models.TextField(blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)  # Unity Catalog's key/value properties

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def full_name(self) -> str:
        return self.name


class Schema(Securable):
    catalog = models.ForeignKey(Catalog, on_delete=models.CASCADE, related_name="schemas")
    name = models.CharField(max_length=255)
    comment = models.TextField(blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)  # Unity Catalog's key/value properties

    class Meta:
        ordering = ["catalog__name", "name"]
        constraints = [models.UniqueConstraint(fields=["catalog", "name"], name="schema_unique_name_in_catalog")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.catalog.name}.{self.name}"


class Grant(models.Model):
    """One privilege held by one principal (user or group) on one securable (catalog, schema, model or
    experiment). Grants on a catalog or schema are inherited by everything below it."""

    privilege = models.CharField(max_length=32, choices=Privilege.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    catalog = models.ForeignKey(Catalog, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    schema = models.ForeignKey(Schema, null=True, blank=True, on_delete=models.CASCADE, related_name="grants")
    model = models.ForeignKey(
        "registry.RegisteredModel", null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    experiment = models.ForeignKey(
        "registry.Experiment", null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False)),
                name="grant_exactly_one_principal",
            ),
            models.CheckConstraint(
                condition=(
                    Q(catalog__isnull=False, schema__isnull=True, model__isnull=True, experiment__isnull=True)
                    | Q(catalog__isnull=True, schema__isnull=False, model__isnull=True, experiment__isnull=True)
                    | Q(catalog__isnull=True, schema__isnull=True, model__isnull=False, experiment__isnull=True)
                    | Q(catalog__isnull=True, schema__isnull=True, model__isnull=True, experiment__isnull=False)
                ),
                name="grant_exactly_one_securable",
            ),
        ]
        indexes = [
            models.Index(fields=["catalog", "privilege"]),
            models.Index(fields=["schema", "privilege"]),
            models.Index(fields=["model", "privilege"]),
        ]

    @property
    def principal_name(self) -> str:
        return self.user.get_username() if self.user_id else self.group.name

    @property
    def principal_type(self) -> str:
        return "user" if self.user_id else "group"
