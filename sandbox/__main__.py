"""`python -m sandbox demo | faults`: the simulated world's commands on their own."""

from hub.logs import configure_logging
from hub.settings import HubSettings
from sandbox.cli import commands

if __name__ == "__main__":
    s = HubSettings()
    configure_logging(s.log_level, json=s.log_json)
    commands(prog_name="python -m sandbox")
