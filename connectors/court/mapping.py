"""How the hub signs what it sends to a court's system, and how that system checks it (pure).

The body is the envelope's JSON as is; the signature is HMAC-SHA256 over the raw body with the
court's shared secret, sent as `X-Hub-Signature: sha256=<hex>` (the convention of GitHub and Stripe
webhooks), so any HTTP stack can verify it.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Hub-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the hub's signature of `body` (constant-time comparison)."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)
