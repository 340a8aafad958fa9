"""How the hub signs what it sends to a court's system, and how that system checks it (pure).

Each court's system has its own webhook and its own secret (`CourtSettings.webhooks`): a leaked
secret lets its holder forge notifications to one court system, not to all. The body is the
envelope's JSON as is. The signature is HMAC-SHA256, with that court's secret, over
`<t>.<message id>.<body>`, sent as `X-Hub-Signature: t=<unix seconds>,v1=<hex>` (the convention
of Stripe's webhooks), so any HTTP stack can verify it, and a receiver refuses:

* a signature that does not match (wrong secret, altered body, another message's id);
* a timestamp more than `WINDOW_S` (300 s) away from its own clock: a notification captured and
  sent again later is refused even though its signature is good. Within the window, the message
  id (`X-Hub-Message-Id`, covered by the signature) is what a receiver deduplicates on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

__all__ = ["MESSAGE_ID_HEADER", "SIGNATURE_HEADER", "WINDOW_S", "sign", "verify"]

SIGNATURE_HEADER: Final = "X-Hub-Signature"
MESSAGE_ID_HEADER: Final = "X-Hub-Message-Id"
WINDOW_S: Final = 300
_HEADER = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


def _mac(secret: str, at: int, message_id: str, body: bytes) -> str:
    signed = f"{at}.{message_id}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, message_id: str, at: int) -> str:
    """The signature header's value for `body`, sent as message `message_id` at unix time `at`."""
    return f"t={at},v1={_mac(secret, at, message_id, body)}"


def verify(
    secret: str,
    body: bytes,
    message_id: str | None,
    signature: str | None,
    now: float,
    window_s: float = WINDOW_S,
) -> bool:
    """Whether `signature` is the hub's, for this body and message id, made within `window_s` of
    `now` (constant-time comparison)."""
    found = _HEADER.match(signature or "")
    if found is None or message_id is None:
        return False
    at = int(found[1])
    if abs(now - at) > window_s:
        return False
    return hmac.compare_digest(_mac(secret, at, message_id, body), found[2])
