"""The cgroups of a harness killed outright are swept by the next one; live ones are kept."""

from __future__ import annotations

import os
import subprocess
import sys

from stack.budget import CGROUP_ROOT, CONTROLLERS, Budget, Confinement, sweep_stale


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_empty_cgroups_of_a_gone_harness_are_removed_and_a_live_ones_kept() -> None:
    stale = f"monolith-{_dead_pid()}-0"
    name = f"monolith-{os.getpid()}-990"
    mine = Confinement(name, Budget())
    for controller in CONTROLLERS:
        (CGROUP_ROOT / controller / "archbench" / stale / "score").mkdir(parents=True)
    mine.apply()
    try:
        assert mine.applied.mechanism == "cgroup-v1"
        for controller in CONTROLLERS:
            assert not (CGROUP_ROOT / controller / "archbench" / stale).exists()
        # this harness is alive: a second sweep leaves its cgroups where they are
        assert sweep_stale() == []
        for controller in CONTROLLERS:
            assert (CGROUP_ROOT / controller / "archbench" / name).is_dir()
    finally:
        mine.remove()
