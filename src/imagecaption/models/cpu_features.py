"""What the CPU can do, as the kernel reports it: which matrix units a runtime could use.

Read from ``/proc/cpuinfo`` (Linux); elsewhere nothing is reported, and every choice made from
it falls back to the plain path.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@cache
def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def has_amx_bf16(flags: frozenset[str] | None = None) -> bool:
    """Intel AMX with its bfloat16 tiles (Sapphire Rapids and later Xeons)."""
    found = cpu_flags() if flags is None else flags
    return {"amx_tile", "amx_bf16"} <= found
