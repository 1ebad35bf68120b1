"""The HMACs webhooks are signed with. Every comparison takes constant time, so
a wrong secret cannot be guessed a byte at a time from how long a refusal takes."""

import hashlib
import hmac
import secrets
import time

# Dockyard's own header on what it sends: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">,
# as Stripe signs; the time in the signed text lets a receiver refuse an old delivery sent again.
SIGNATURE_HEADER = "X-Dockyard-Signature"


def new_secret():
    return secrets.token_urlsafe(32)


def _hex_hmac(secret, data):
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def github_valid(secret, body, header):
    """Whether X-Hub-Signature-256 (`sha256=<hex>`) is the HMAC-SHA256 of the raw body."""
    expected = "sha256=" + _hex_hmac(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


def gitlab_valid(secret, header):
    """Whether X-Gitlab-Token is the secret (GitLab sends it as it is, unsigned)."""
    return hmac.compare_digest(secret.encode(), header.encode())


def dockyard_signature(secret, body, at=None):
    """The X-Dockyard-Signature value for `body` (bytes) sent at `at` (unix seconds, now by default)."""
    at = int(time.time() if at is None else at)
    return f"t={at},v1={_hex_hmac(secret, str(at).encode() + b'.' + body)}"


def dockyard_valid(secret, body, header, tolerance=300, now=None):
    """What a receiver checks: the signature is the body's, made within `tolerance` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        at = int(parts.get("t", ""))
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - at) > tolerance:
        return False
    expected = _hex_hmac(secret, str(at).encode() + b"." + body)
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode())
