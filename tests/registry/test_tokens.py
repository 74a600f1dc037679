"""Personal access tokens: random, stored only as a digest, expiring, revocable, and the create_token command."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from registry.errors import InvalidParameter, NotFound
from registry.models import PersonalAccessToken
from registry.services.tokens import TOKEN_PREFIX, token_authenticate, token_create, token_digest, token_revoke


@pytest.mark.django_db
def test_secret_is_stored_only_as_its_digest(owner):
    token, secret = token_create(actor=owner, user=owner, name="laptop")
    row = PersonalAccessToken.objects.filter(pk=token.pk).values().get()
    assert not any(secret in str(value) for value in row.values())
    assert row["digest"] == token_digest(secret) and len(row["digest"]) == 64
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 3


@pytest.mark.django_db
def test_secrets_carry_at_least_128_bits_and_never_repeat(owner):
    secrets = {token_create(actor=owner, user=owner)[1] for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        body = secret[len(TOKEN_PREFIX):]
        # token_urlsafe: 6 bits per character.
        assert len(body) * 6 >= 128


@pytest.mark.django_db
def test_token_authenticates_its_user_and_records_last_use(owner):
    token, secret = token_create(actor=owner, user=owner)
    assert token.last_used_at is None
    assert token_authenticate(secret) == owner
    token.refresh_from_db()
    assert token.last_used_at is not None and timezone.now() - token.last_used_at < timedelta(minutes=1)


@pytest.mark.django_db
def test_last_use_is_refreshed_after_a_minute(owner):
    token, secret = token_create(actor=owner, user=owner)
    long_ago = timezone.now() - timedelta(hours=2)
    PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=long_ago)
    token_authenticate(secret)
    token.refresh_from_db()
    assert token.last_used_at > long_ago + timedelta(hours=1)


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["", "cex_wrong", "x" * 10_000, None])
def test_unknown_or_malformed_secrets_authenticate_nobody(owner, secret):
    token_create(actor=owner, user=owner)
    assert token_authenticate(secret) is None


@pytest.mark.django_db
def test_expired_token_is_refused(owner):
    token, secret = token_create(actor=owner, user=owner, days=1)
    assert timedelta(hours=23) < token.expires_at - timezone.now() <= timedelta(days=1)
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert token_authenticate(secret) is None


@pytest.mark.django_db
def test_default_expiry_is_a_setting_and_zero_days_never_expires(owner, settings):
    settings.TOKEN_DEFAULT_DAYS = 7
    token, _ = token_create(actor=owner, user=owner)
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    forever, secret = token_create(actor=owner, user=owner, days=0)
    assert forever.expires_at is None and token_authenticate(secret) == owner


@pytest.mark.django_db
@pytest.mark.parametrize("days", [-1, 3651, "7", 1.5])
def test_invalid_lifetimes_are_refused(owner, days):
    with pytest.raises(InvalidParameter):
        token_create(actor=owner, user=owner, days=days)
    assert not PersonalAccessToken.objects.exists()


@pytest.mark.django_db
def test_revoked_token_stops_working_at_once(owner):
    token, secret = token_create(actor=owner, user=owner)
    assert token_authenticate(secret) == owner
    token_revoke(actor=owner, token_id=token.pk)
    assert token_authenticate(secret) is None


@pytest.mark.django_db
def test_users_cannot_touch_each_others_tokens(owner, outsider, admin):
    token, secret = token_create(actor=owner, user=owner)
    with pytest.raises(NotFound):
        token_revoke(actor=outsider, token_id=token.pk)
    with pytest.raises(NotFound):
        token_create(actor=outsider, user=owner)
    assert token_authenticate(secret) == owner
    token_revoke(actor=admin, token_id=token.pk)
    assert token_authenticate(secret) is None
    _, for_owner = token_create(actor=admin, user=owner)
    assert token_authenticate(for_owner) == owner


@pytest.mark.django_db
def test_deactivated_user_tokens_stop_working(owner):
    _, secret = token_create(actor=owner, user=owner)
    owner.is_active = False
    owner.save()
    assert token_authenticate(secret) is None


@pytest.mark.django_db
def test_create_token_command_prints_the_token_alone_on_its_last_line(owner):
    out = io.StringIO()
    call_command("create_token", "owner", "--days", "30", "--name", "ci", stdout=out)
    last = out.getvalue().rstrip("\n").splitlines()[-1]
    assert last.startswith(TOKEN_PREFIX) and last == last.strip() and " " not in last
    assert token_authenticate(last) == owner
    token = PersonalAccessToken.objects.get()
    assert token.name == "ci" and timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert last not in str(PersonalAccessToken.objects.values().get())


@pytest.mark.django_db
def test_create_token_command_refuses_unknown_users_and_bad_days(owner):
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_token", "nobody", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_token", "owner", "--days", "-3", stdout=io.StringIO())
    assert not PersonalAccessToken.objects.exists()
