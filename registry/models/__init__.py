"""The registry's tables: governance (catalogs, schemas, grants), models and versions, tracking, jobs, audit."""
from registry.models.approvals import (
    AliasChangeRequest,
    ApprovalPolicy,
    ProtectedAlias,
    RequestState,
    StageTransitionRequest,
)
from registry.models.artifacts import ArtifactChecksum, ArtifactStoreSwitch
from registry.models.audit import AuditEvent
from registry.models.change_counter import ChangeCounter
from registry.models.comments import Comment
from registry.models.follows import Follow, NotificationEmail
from registry.models.governance import Catalog, Grant, Privilege, Schema
from registry.models.jobs import Job
from registry.models.models import (
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from registry.models.principals import ServicePrincipal
from registry.models.remote_registries import RemoteRegistry
from registry.models.serving import ServedModel, ServingDeployment, ServingEndpoint, ServingEvent, ServingState
from registry.models.serving_endpoints import EndpointPermissionLevel, ServingEndpointGrant, ServingEndpointMinute
from registry.models.tokens import PersonalAccessToken
from registry.models.tracking import (
    Dataset,
    Experiment,
    ExperimentTag,
    LoggedModel,
    LoggedModelParam,
    LoggedModelTag,
    Metric,
    Param,
    Run,
    RunInput,
    RunModelInput,
    RunOutput,
    RunTag,
)
from registry.models.upload_area import UploadAreaDirectory
from registry.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery

__all__ = [
    "AliasChangeRequest", "ApprovalPolicy", "ProtectedAlias", "RequestState", "StageTransitionRequest",
    "ArtifactChecksum", "ArtifactStoreSwitch", "AuditEvent", "Catalog", "Comment", "Follow", "NotificationEmail", "Dataset", "Experiment", "ExperimentTag", "Grant", "Job", "LoggedModel",
    "LoggedModelParam", "LoggedModelTag", "Metric", "ModelAlias", "ModelVersion", "ModelVersionTag", "Param",
    "PersonalAccessToken", "Privilege", "RegisteredModel", "RegisteredModelTag", "RemoteRegistry", "Run", "RunInput", "RunModelInput",
    "RunOutput", "RunTag", "Schema", "ServicePrincipal", "ServedModel", "ServingDeployment", "ServingEndpoint", "ServingEvent", "ServingState",
    "UploadAreaDirectory", "Webhook", "WebhookAttempt", "WebhookDelivery",
]
