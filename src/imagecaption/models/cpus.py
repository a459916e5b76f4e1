"""How many cores the models may use: the smaller of this process's CPU affinity and its cgroup
CPU quota.

``os.cpu_count()`` counts the host's cores. In a container limited to 2 CPUs on a 64-core host
(``docker run --cpus 2``, a Kubernetes CPU limit), 64 threads per operator would share 2 cores'
worth of time, and each operator would wait for its slowest thread to be scheduled again.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT, membership: str | None = None) -> int:
    """At least 1. ``membership`` is the text of /proc/self/cgroup (read when not given)."""
    if hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:  # macOS and Windows have no affinity call
        count = os.cpu_count() or 1
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            membership = ""
    limit = cgroup_cpu_limit(cgroup_root, *_own_groups(membership))
    return max(1, min(count, limit) if limit else count)


def cgroup_cpu_limit(root: Path, unified: str = "/", cpu: str = "/") -> int | None:
    """Whole CPUs allowed by the quota (rounded up), or None when there is no quota.

    cgroup v2 keeps ``cpu.max`` ("<quota> <period>" or "max <period>") in the process's group
    (``unified``); v1 keeps ``cpu.cfs_quota_us`` (-1: none) and ``cpu.cfs_period_us`` in its
    ``cpu`` controller's group. Inside a container the process's group is usually the root of what
    it can see, so the root is read when the group's own folder is not there.
    """
    for folder in (root / unified.lstrip("/"), root):
        try:
            quota, period = (folder / "cpu.max").read_text().split()
        except (OSError, ValueError):
            pass
        else:
            return None if quota == "max" else _whole(int(quota), int(period))
    for folder in (root / "cpu" / cpu.lstrip("/"), root / "cpu"):
        try:
            quota_us = int((folder / "cpu.cfs_quota_us").read_text())
            period_us = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota_us < 0 else _whole(quota_us, period_us)
    return None


def _whole(quota: int, period: int) -> int | None:
    return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None


def _own_groups(membership: str) -> tuple[str, str]:
    """This process's cgroup v2 path and its v1 ``cpu`` controller path, from lines such as
    ``0::/path`` (v2) and ``4:cpu,cpuacct:/path`` (v1)."""
    unified = cpu = "/"
    for line in membership.splitlines():
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if number == "0" and not controllers:
            unified = path or "/"
        elif "cpu" in controllers.split(","):
            cpu = path or "/"
    return unified, cpu
