"""Service principals (identities for automation that cannot sign in) and their tokens, managed by metastore
admins. A service principal is a user row with an unusable password and a `ServicePrincipal` row; its user name
is its application id, which is what grants, group membership and ownership name it by."""
from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from registry import audit
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import Catalog, Experiment, PersonalAccessToken, RegisteredModel, Schema, ServicePrincipal
from registry.names import _has_control_or_bidi
from registry.services.core import service
from registry.services.groups import _require_admin
from registry.services.tokens import token_create, token_revoke

User = get_user_model()
MAX_DISPLAY_NAME = 255


def validate_display_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("A service principal's display name must be a non-empty string.")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidParameter(f"Display name must be at most {MAX_DISPLAY_NAME} characters, got {len(name)}.")
    if name != name.strip() or _has_control_or_bidi(name) or "\x00" in name:
        raise InvalidParameter("Display name must not start or end with whitespace, nor contain control or "
                               "bidirectional characters.")
    return name


def service_principal_list(*, actor) -> QuerySet[ServicePrincipal]:
    _require_admin(actor, "list service principals")
    return ServicePrincipal.objects.select_related("user").order_by("display_name", "id")


def _find(key: object) -> ServicePrincipal | None:
    """By SCIM id (its user's id, as token owner ids), application id (a UUID; also its user name)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return ServicePrincipal.objects.select_related("user").filter(user_id=key).first()
    if not isinstance(key, str) or not key or len(key) > 100:
        return None
    if key.isdigit():
        return ServicePrincipal.objects.select_related("user").filter(user_id=int(key)).first() if len(key) < 19 else None
    try:
        application_id = uuid.UUID(key)
    except ValueError:
        return None
    return ServicePrincipal.objects.select_related("user").filter(application_id=application_id).first()


def service_principal_get(*, actor, key) -> ServicePrincipal:
    _require_admin(actor, "read service principals")
    sp = _find(key)
    if sp is None:
        raise NotFound(f"Service principal '{str(key)[:100]}' does not exist.")
    return sp


def is_service_principal(user) -> bool:
    return bool(user and getattr(user, "pk", None)) and ServicePrincipal.objects.filter(user_id=user.pk).exists()


@service("service_principal.create")
def service_principal_create(*, actor, display_name: str, active: bool = True,
                             application_id: str | None = None) -> ServicePrincipal:
    _require_admin(actor, "create service principals")
    display_name = validate_display_name(display_name)
    if not isinstance(active, bool):
        raise InvalidParameter("active must be true or false.")
    if application_id in (None, ""):
        app_id = uuid.uuid4()
    else:
        try:
            app_id = uuid.UUID(str(application_id)) if isinstance(application_id, str) else None
        except ValueError:
            app_id = None
        if app_id is None:
            raise InvalidParameter("applicationId must be a UUID.")
        if ServicePrincipal.objects.filter(application_id=app_id).exists():
            raise AlreadyExists(f"A service principal with applicationId {app_id} already exists.")
    username = str(app_id)
    if User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
        raise AlreadyExists(f"A user named {username} already exists.")
    user = User(**{User.USERNAME_FIELD: username}, first_name=display_name[:150], is_active=active,
                is_staff=False, is_superuser=False)
    user.set_unusable_password()
    user.save()
    sp = ServicePrincipal.objects.create(user=user, application_id=app_id, display_name=display_name,
                                         created_by=actor)
    audit.record(actor=actor, action="service_principal.create", obj=sp,
                 params={"display_name": display_name, "application_id": username, "active": active})
    return sp


@service("service_principal.update")
def service_principal_update(*, actor, key, display_name: str | None = None,
                             active: bool | None = None) -> ServicePrincipal:
    """Rename and/or (de)activate. A deactivated principal's tokens stop working at once (they are kept, so
    activating it again restores them); its grants stay."""
    sp = service_principal_get(actor=actor, key=key)
    changed = {}
    if display_name is not None:
        sp.display_name = validate_display_name(display_name)
        sp.save(update_fields=["display_name"])
        sp.user.first_name = sp.display_name[:150]
        sp.user.save(update_fields=["first_name"])
        changed["display_name"] = sp.display_name
    if active is not None:
        if not isinstance(active, bool):
            raise InvalidParameter("active must be true or false.")
        sp.user.is_active = active
        sp.user.save(update_fields=["is_active"])
        changed["active"] = active
    audit.record(actor=actor, action="service_principal.update", obj=sp,
                 params={"application_id": str(sp.application_id), **changed})
    return sp


@service("service_principal.delete")
def service_principal_delete(*, actor, key) -> None:
    """Deletes the principal with its tokens and grants. Refused while it owns something: ownership must be
    transferred first, as for a group."""
    sp = service_principal_get(actor=actor, key=key)
    owned = [m.objects.filter(owner_user=sp.user).first() for m in (Catalog, Schema, RegisteredModel, Experiment)]
    owned = [o for o in owned if o is not None]
    if owned:
        example = getattr(owned[0], "full_name", None) or getattr(owned[0], "name", "")
        raise InvalidParameter(f"Service principal '{sp.display_name}' owns objects (for example '{example}'): "
                               "transfer their ownership before deleting it.")
    audit.record(actor=actor, action="service_principal.delete", obj=sp,
                 params={"display_name": sp.display_name, "application_id": str(sp.application_id),
                         "tokens_removed": sp.user.tokens.count(), "grants_removed": sp.user.grants.count()})
    sp.user.delete()  # the ServicePrincipal row, its tokens, grants and memberships go with it


def service_principal_tokens(*, actor, key) -> QuerySet[PersonalAccessToken]:
    sp = service_principal_get(actor=actor, key=key)
    return PersonalAccessToken.objects.filter(user=sp.user).order_by("-created_at")


@service("service_principal.token_create")
def service_principal_token_create(*, actor, key, name: str = "", days: int | None = None,
                                   lifetime_seconds: int | None = None) -> tuple[PersonalAccessToken, str]:
    """A token for the principal, created by an admin on its behalf. Returns the row and the secret (shown once)."""
    sp = service_principal_get(actor=actor, key=key)
    if not sp.user.is_active:
        raise InvalidParameter(f"Service principal '{sp.display_name}' is deactivated: activate it before issuing "
                               "tokens.")
    return token_create(actor=actor, user=sp.user, name=name or "token", days=days, lifetime_seconds=lifetime_seconds)


@service("service_principal.token_revoke")
def service_principal_token_revoke(*, actor, key, token_id: int) -> PersonalAccessToken:
    sp = service_principal_get(actor=actor, key=key)
    if not PersonalAccessToken.objects.filter(pk=token_id, user=sp.user).exists():
        raise NotFound("Token not found.")
    return token_revoke(actor=actor, token_id=token_id)
