"""Personal access tokens: >= 128 bits of randomness, only a SHA-256 digest stored, shown once."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from registry import audit
from registry.change_counter import CountedCache
from registry.errors import InvalidParameter, NotFound
from registry.models import PersonalAccessToken
from registry.query_helpers import only_row
from registry.services.core import require_authenticated, require_text, service

TOKEN_PREFIX = "cex_"

# digest -> token row (with its user), while nothing that decides a token's validity or its owner's has changed
# (the `tokens` counter: tokens and users, so that registry writes keep the cache).
_tokens_by_digest: CountedCache = CountedCache(counter="tokens")


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@service("token.create")
def token_create(*, actor, user, name: str = "", days: int | None = None,
                 lifetime_seconds: int | None = None) -> tuple[PersonalAccessToken, str]:
    """Create a token for `user` (an actor may create tokens only for itself unless it is an admin).
    `lifetime_seconds` (Databricks' spelling, 0 or None: `days`) overrides `days`.
    Returns the row and the secret, which is never stored and cannot be shown again."""
    require_authenticated(actor)
    if actor.pk != user.pk and not actor.is_superuser:
        raise NotFound("User not found.")
    name = require_text(name or "token", "name", max_length=100, allow_empty=False)
    days = settings.TOKEN_DEFAULT_DAYS if days is None else days
    if not isinstance(days, int) or days < 0 or days > 3650:
        raise InvalidParameter("days must be between 0 (never expires) and 3650.")
    if lifetime_seconds is not None and (isinstance(lifetime_seconds, bool) or not isinstance(lifetime_seconds, int)
                                         or not 0 <= lifetime_seconds <= 3650 * 86400):
        raise InvalidParameter("lifetime_seconds must be between 0 and 315360000 (3650 days).")
    lifetime = timedelta(seconds=lifetime_seconds) if lifetime_seconds else timedelta(days=days) if days else None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits
    token = PersonalAccessToken.objects.create(
        user=user, name=name, digest=token_digest(secret), prefix=secret[: len(TOKEN_PREFIX) + 4],
        expires_at=timezone.now() + lifetime if lifetime else None,
    )
    audit.record(actor=actor, action="token.create", obj=token, params={"user": user.get_username(), "name": name, "days": days})
    return token, secret


@service("token.revoke")
def token_revoke(*, actor, token_id: int) -> PersonalAccessToken:
    require_authenticated(actor)
    qs = PersonalAccessToken.objects.all() if actor.is_superuser else PersonalAccessToken.objects.filter(user=actor)
    token = qs.filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="token.revoke", obj=token, params={"name": token.name})
    return token


def token_authenticate(secret: str):
    """The active user owning `secret`, or None. Records last use at most once a minute per token."""
    if not secret or len(secret) > 200:
        return None
    digest = token_digest(secret)
    token = _tokens_by_digest.get_or_compute(
        digest, lambda: only_row(PersonalAccessToken.objects.select_related("user").filter(digest=digest)))
    now = timezone.now()
    if token is None or token.revoked_at is not None or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now  # the cached row too, so that the next minute's requests do not write again
    return token.user
