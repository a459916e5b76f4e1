"""The core count the models use follows container CPU limits, not the host's core count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imagecaption.models.cpus import cgroup_cpu_limit, usable_cpus

HOST = len(os.sched_getaffinity(0))


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)],
)
def test_cgroup_v2_quota_in_whole_cpus(tmp_path: Path, cpu_max: str, expected: int | None) -> None:
    write(tmp_path / "cpu.max", cpu_max)
    assert cgroup_cpu_limit(tmp_path) == expected


def test_cgroup_v2_reads_the_process_own_group(tmp_path: Path) -> None:
    write(tmp_path / "cpu.max", "max 100000\n")
    write(tmp_path / "kubepods" / "pod1" / "cpu.max", "300000 100000\n")
    assert cgroup_cpu_limit(tmp_path, unified="/kubepods/pod1") == 3


@pytest.mark.parametrize(("quota", "expected"), [("400000", 4), ("-1", None)])
def test_cgroup_v1_quota(tmp_path: Path, quota: str, expected: int | None) -> None:
    write(tmp_path / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us", quota + "\n")
    write(tmp_path / "cpu" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(tmp_path, cpu="/docker/abc") == expected


def test_no_cgroup_files_means_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path) is None


def test_the_smaller_of_affinity_and_quota_wins(tmp_path: Path) -> None:
    write(tmp_path / "cpu.max", "100000 100000\n")
    assert usable_cpus(tmp_path, membership="0::/\n") == 1
    write(tmp_path / "cpu.max", f"{(HOST + 8) * 100000} 100000\n")
    assert usable_cpus(tmp_path, membership="0::/\n") == HOST


def test_v1_membership_lines_name_the_cpu_controller_group(tmp_path: Path) -> None:
    write(tmp_path / "cpu" / "job" / "cpu.cfs_quota_us", "100000\n")
    write(tmp_path / "cpu" / "job" / "cpu.cfs_period_us", "100000\n")
    membership = "5:memory:/other\n4:cpu,cpuacct:/job\n0::/\n"
    assert usable_cpus(tmp_path, membership=membership) == 1


def test_this_machine() -> None:
    assert 1 <= usable_cpus() <= HOST
