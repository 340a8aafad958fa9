"""Operations: the dashboard and its API, dead-letter browse and safe replay, metrics, the CLI.

`create_app(OpsService.from_hub(hub))` serves it from a running hub; `python -m hub ops` serves
it standalone, and `python -m hub dlq|status|timeline` are the same operations in a shell.
"""

from hub.ops.api import create_app
from hub.ops.service import OpsService

__all__ = ["OpsService", "create_app"]
