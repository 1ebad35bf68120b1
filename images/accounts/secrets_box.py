"""Encryption of stored secrets (registry passwords) with a key kept out of the
source: DOCKYARD_ENCRYPTION_KEY, or one generated once under DOCKYARD_DATA_DIR."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet():
    key = settings.DOCKYARD_ENCRYPTION_KEY
    if not key:
        path = settings.DATA_DIR / "encryption-key"
        if not path.exists():
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_bytes(Fernet.generate_key())
        key = path.read_bytes().strip()
    try:
        return Fernet(key)
    except ValueError as exc:
        raise ImproperlyConfigured("DOCKYARD_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes).") from exc


def encrypt(text):
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("A stored secret cannot be decrypted: was DOCKYARD_ENCRYPTION_KEY changed?") from exc
