"""The fault suite: a scenario of many orders under injected faults, then its invariants.

`python -m hub faults --short` (CI) or `--long` (by hand; its figures are in the README).
"""

from sandbox.faults.plan import LONG, PROFILES, SHORT, Profile
from sandbox.faults.report import Report
from sandbox.faults.runner import FaultOptions, run_faults, run_suite
from sandbox.faults.services import PrivateServices, ServicesUnavailable

__all__ = [
    "LONG",
    "PROFILES",
    "SHORT",
    "FaultOptions",
    "PrivateServices",
    "Profile",
    "Report",
    "ServicesUnavailable",
    "run_faults",
    "run_suite",
]
