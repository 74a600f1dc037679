"""Webhook secrets at rest: encrypted with a key derived from SECRET_KEY (a delivery must sign with the secret
itself, so it cannot be hashed). No answer of any API shows a secret; changing SECRET_KEY makes stored secrets
unreadable, and deliveries of those webhooks are then sent unsigned and logged as such."""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"catalog-explorer webhook secrets\x00" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(stored: str) -> str | None:
    """The secret, "" when none is set, None when it cannot be decrypted (SECRET_KEY changed)."""
    if not stored:
        return ""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken:
        return None
