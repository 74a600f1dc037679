"""Groups of users, so grants and ownership can go to a team: created, deleted and filled by metastore admins."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from registry import audit, permissions
from registry.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from registry.names import _has_control_or_bidi
from registry.services.core import require_authenticated, service

User = get_user_model()
MAX_GROUP_NAME = 150  # django.contrib.auth's Group.name


def _require_admin(actor, what: str) -> None:
    require_authenticated(actor)
    if not permissions.is_admin(actor):
        raise PermissionDenied(f"Permission denied: only metastore admins may {what}.")


def validate_group_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("Group name must be a non-empty string.")
    if len(name) > MAX_GROUP_NAME:
        raise InvalidParameter(f"Group name must be at most {MAX_GROUP_NAME} characters, got {len(name)}.")
    if name != name.strip() or _has_control_or_bidi(name) or "`" in name:
        raise InvalidParameter("Group name must not start or end with whitespace, nor contain control, "
                               "bidirectional or backquote characters.")
    if name.partition(":")[0] in ("user", "group") and ":" in name:
        raise InvalidParameter("Group name must not start with 'user:' or 'group:' (those prefixes pick the kind "
                               "of principal).")
    return name


def _group(name: str) -> Group:
    group = Group.objects.filter(name=name).first() if isinstance(name, str) else None
    if group is None:
        raise NotFound(f"Group '{str(name)[:150]}' does not exist.")
    return group


def _user(username: object) -> User:
    if not isinstance(username, str) or not username:
        raise InvalidParameter("User must be a non-empty user name.")
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        raise NotFound(f"User '{username[:150]}' does not exist.")
    return user


def group_list(*, actor) -> QuerySet[Group]:
    """Group names are what owners grant to, so every signed-in user may list them."""
    require_authenticated(actor)
    return Group.objects.order_by("name").prefetch_related("user_set")


def group_get(*, actor, name: str) -> Group:
    require_authenticated(actor)
    return _group(name)


@service("group.create")
def group_create(*, actor, name: str) -> Group:
    _require_admin(actor, "create groups")
    name = validate_group_name(name)
    # A group named like a user would make grants to that name ambiguous.
    if User.objects.filter(**{User.USERNAME_FIELD: name}).exists():
        raise AlreadyExists(f"A user named '{name}' exists: choose another group name.")
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name)
    except IntegrityError:
        raise AlreadyExists(f"Group '{name}' already exists.") from None
    audit.record(actor=actor, action="group.create", obj=group, params={"name": name})
    return group


@service("group.rename")
def group_rename(*, actor, name: str, new_name: str) -> Group:
    """Grants, ownership and members follow the group (they point to its row, not its name)."""
    _require_admin(actor, "rename groups")
    group = _group(name)
    new_name = validate_group_name(new_name)
    if new_name == group.name:
        return group
    if User.objects.filter(**{User.USERNAME_FIELD: new_name}).exists():
        raise AlreadyExists(f"A user named '{new_name}' exists: choose another group name.")
    if Group.objects.filter(name=new_name).exists():
        raise AlreadyExists(f"Group '{new_name}' already exists.")
    previous = group.name
    group.name = new_name
    group.save(update_fields=["name"])
    audit.record(actor=actor, action="group.rename", obj=group, params={"name": previous, "new_name": new_name})
    return group


@service("group.delete")
def group_delete(*, actor, name: str) -> None:
    _require_admin(actor, "delete groups")
    group = _group(name)
    from registry.models import Catalog, Experiment, RegisteredModel, Schema

    owned = [m.objects.filter(owner_group=group).first() for m in (Catalog, Schema, RegisteredModel, Experiment)]
    owned = [o for o in owned if o is not None]
    if owned:
        example = getattr(owned[0], "full_name", None) or getattr(owned[0], "name", "")
        raise InvalidParameter(f"Group '{group.name}' owns objects (for example '{example}'): transfer their "
                               "ownership before deleting the group.")
    grants = group.grants.count()
    audit.record(actor=actor, action="group.delete", obj=group,
                 params={"name": group.name, "members": group.user_set.count(), "grants_removed": grants})
    group.delete()  # its grants go with it


@service("group.member_add")
def group_member_add(*, actor, name: str, user: str) -> Group:
    _require_admin(actor, "change group membership")
    group = _group(name)
    member = _user(user)
    added = not group.user_set.filter(pk=member.pk).exists()
    group.user_set.add(member)
    audit.record(actor=actor, action="group.member_add", obj=group,
                 params={"group": group.name, "user": member.get_username(), "added": added})
    return group


@service("group.member_remove")
def group_member_remove(*, actor, name: str, user: str) -> Group:
    _require_admin(actor, "change group membership")
    group = _group(name)
    member = _user(user)
    removed = group.user_set.filter(pk=member.pk).exists()
    group.user_set.remove(member)
    audit.record(actor=actor, action="group.member_remove", obj=group,
                 params={"group": group.name, "user": member.get_username(), "removed": removed})
    return group
