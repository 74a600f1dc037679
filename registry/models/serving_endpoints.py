"""Serving endpoints' own tables: who may view, query or manage an endpoint (its creator always manages it), and
the per-minute latency histograms of each served entity that the endpoint's GET and page show."""
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class EndpointPermissionLevel(models.TextChoices):
    # Ordered: each level includes the ones before it.
    CAN_VIEW = "CAN_VIEW"
    CAN_QUERY = "CAN_QUERY"
    CAN_MANAGE = "CAN_MANAGE"


class ServingEndpointGrant(models.Model):
    """One permission level held by one user or group on one endpoint (the Databricks permissions API's ACL).
    Not registry Grant: that one's securables are catalogs, schemas, models and experiments, with privileges
    (EXECUTE, MANAGE...) of another vocabulary."""

    endpoint = models.ForeignKey("registry.ServingEndpoint", on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=16, choices=EndpointPermissionLevel.choices)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(user__isnull=False, group__isnull=True)
                                   | Q(user__isnull=True, group__isnull=False),
                                   name="endpoint_grant_exactly_one_principal"),
            models.UniqueConstraint(fields=["endpoint", "user"], condition=Q(user__isnull=False),
                                    name="endpoint_grant_one_level_per_user"),
            models.UniqueConstraint(fields=["endpoint", "group"], condition=Q(group__isnull=False),
                                    name="endpoint_grant_one_level_per_group"),
        ]


class ServingEndpointMinute(models.Model):
    """How many requests one served entity answered in one minute with a latency in one histogram bucket
    (registry.serving.endpoint_metrics has the bounds). Rows older than the window are pruned as new minutes
    start."""

    endpoint = models.ForeignKey("registry.ServingEndpoint", on_delete=models.CASCADE, related_name="minutes")
    entity_name = models.CharField(max_length=255)
    minute = models.DateTimeField()
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "entity_name", "minute", "bucket"],
                                               name="endpoint_minute_unique_bucket")]
        indexes = [models.Index(fields=["endpoint", "minute"])]
