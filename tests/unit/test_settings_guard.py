"""`python -m hub run` refuses a demo's secrets or users unless told it runs a demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.settings import HubSettings, OpsUser, RabbitSettings, SecuritySettings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t" * 32


def _production() -> HubSettings:
    """Settings a production deployment would have: nothing the guard objects to."""
    s = HubSettings(
        rabbit=RabbitSettings(url="amqp://hub:pw@broker:5672/"),
        security=SecuritySettings(person_key_secret=SecretStr("k" * 32)),
    )
    s.bnmp.client_secret = SecretStr("b" * 32)
    s.ops.tokens = {TOKEN: OpsUser(user="ana", role="admin")}
    return s


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda s: setattr(s, "rabbit", RabbitSettings()), "guest"),
        (lambda s: setattr(s.bnmp, "client_secret", SecretStr("hub-secret")), "BNMP"),
        (
            lambda s: setattr(s.security, "person_key_secret", SecretStr("hub-demo-secret")),
            "pseudonym",
        ),
        (lambda s: setattr(s.ops, "tokens", {"demo-admin": OpsUser(user="x", role="admin")}), "x"),
        (lambda s: setattr(s.security, "require_signatures", False), "signatures"),
        (lambda s: setattr(s.security, "require_unit_identity", False), "identity"),
    ],
    ids=["guest", "bnmp-secret", "person-key", "short-token", "unsigned", "no-identity"],
)
def test_each_demo_setting_is_named(change: object, complaint: str) -> None:
    """Production-like settings pass; each demo value alone is reported."""
    s = _production()
    assert s.demo_settings_in_use() == []
    change(s)  # type: ignore[operator]
    (found,) = s.demo_settings_in_use()
    assert complaint in found


def test_run_refuses_the_defaults_without_touching_anything() -> None:
    """With the clone's defaults, `run` exits 2 at once, saying why and how to go on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    proc = subprocess.run(
        [sys.executable, "-m", "hub", "run", "--no-dashboard"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    out = proc.stdout + proc.stderr
    assert "hub.refused_to_start" in out
    assert "HUB_DEMO=true" in out
