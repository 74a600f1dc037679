"""Django admin: grants and the audit log, read-only (changes go through the services, which audit them);
groups and their members are managed by django.contrib.auth's own Group and User admins."""
from django.contrib import admin

from registry.models import AuditEvent, Grant


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ("privilege", "principal_name", "catalog", "schema", "model", "experiment", "granted_by",
                    "created_at")
    list_filter = ("privilege",)
    search_fields = ("user__username", "group__name", "catalog__name", "schema__name", "model__name")
    list_select_related = ("user", "group", "catalog", "schema__catalog", "model__schema__catalog", "experiment",
                           "granted_by")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor_name", "action", "object_type", "object_name", "outcome", "via")
    list_filter = ("outcome", "action", "via")
    search_fields = ("actor_name", "action", "object_name")
    date_hierarchy = "created_at"
