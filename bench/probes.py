"""What a scenario costs: CPU of the hub, RabbitMQ and PostgreSQL, and the hub's resident memory.

Everything is read from `/proc`, so no extra dependency is needed. The hub's own CPU comes from
`getrusage` (microsecond resolution); RabbitMQ is the node's Erlang VM (`beam.smp`, its pid from
the management API, so another node on the machine is not mistaken for it); PostgreSQL is the
backends that serve this process's connections, found by matching the local ports of this process's
sockets against `pg_stat_activity.client_port`, so other engineers' sessions are not counted.
"""

from __future__ import annotations

import os
import re
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CpuSnapshot", "pg_pids_of_self", "rss_mb", "snapshot"]

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_PG_PORT = 5432
_SOCKET_LINK = re.compile(r"socket:\[(\d+)\]")


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far by this process, the broker and this process's database backends."""

    self_s: float
    beam_s: float | None
    pg_s: dict[int, float] = field(default_factory=dict)

    def minus(self, before: CpuSnapshot) -> dict[str, float]:
        """CPU seconds spent between `before` and this snapshot, per side (no broker if remote)."""
        pg = sum(s - before.pg_s.get(pid, 0.0) for pid, s in self.pg_s.items())
        spent = {"app": self.self_s - before.self_s, "postgres": pg}
        if self.beam_s is not None and before.beam_s is not None:
            spent["rabbitmq"] = self.beam_s - before.beam_s
        return spent


def _proc_cpu_s(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime + stime, in ticks


def _self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _own_socket_inodes() -> set[str]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            m = _SOCKET_LINK.match(os.readlink(fd))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    return inodes


def _local_ports_to(port: int) -> set[int]:
    """Local ports of this process's TCP connections to `port` (IPv4 and IPv6 tables)."""
    mine, ports = _own_socket_inodes(), set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if inode in mine and int(remote.rsplit(":", 1)[1], 16) == port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


async def pg_pids_of_self(conn: Any) -> list[int]:
    """The PostgreSQL backends serving this process's connections (by client port)."""
    ports = sorted(_local_ports_to(_PG_PORT))
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])"
        " AND client_addr IN ('127.0.0.1', '::1') AND pid <> pg_backend_pid()",
        ports,
    )
    return [int(r["pid"]) for r in rows]


async def snapshot(conn: Any, beam: int | None) -> CpuSnapshot:
    """Read all three CPU counters now; `conn` is a monitoring connection to PostgreSQL."""
    pids = await pg_pids_of_self(conn)
    return CpuSnapshot(
        self_s=_self_cpu_s(),
        beam_s=_proc_cpu_s(beam) if beam else None,
        pg_s={pid: s for pid in pids if (s := _proc_cpu_s(pid)) is not None},
    )


def rss_mb(field_name: str = "VmRSS") -> float:
    """This process's resident memory (`VmRSS`) or its peak (`VmHWM`), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0
