"""The soak's analysis on constructed samples (slope, leak flags), and one very short real soak
whose output has the promised shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from archbench.commands.soak import duration_s
from bench.analyse import soak
from bench.analyse.soak import MiB
from pipeline.errors import UserError
from tests.bench.conftest import ARCHBENCH
from tests.conftest import free_base_port, processes_on_ports


def samples(
    rss_mib_per_min: float, fds_per_sample: float = 0, n: int = 60, every_s: float = 5.0
) -> list[dict]:
    """A service whose RSS grows linearly (with a wobble) and whose fds grow steadily."""
    out = []
    for i in range(n):
        t = i * every_s
        wobble = 0.5 if i % 2 else -0.5
        rss = (200 + rss_mib_per_min * t / 60 + wobble) * MiB
        row = {"rss_bytes": rss, "open_fds": 30 + int(fds_per_sample * i), "connections": 4}
        out.append({"t_s": t, "services": {"gateway": row}})
    return out


def test_the_slope_is_least_squares_per_minute() -> None:
    assert soak.slope_per_min([0, 60, 120], [10, 12, 14]) == pytest.approx(2.0)
    assert soak.slope_per_min([0, 30, 60, 90], [5, 9, 5, 9]) == pytest.approx(1.6)
    assert soak.slope_per_min([5], [1]) is None
    assert soak.slope_per_min([5, 5], [1, 2]) is None


def test_a_flat_service_does_not_leak() -> None:
    result = soak.analyse(samples(0.0), warmup_s=60)
    gateway = result["services"]["gateway"]
    assert abs(gateway["rss_slope_mib_per_min"]) < 0.05
    assert gateway["samples"] == 48 and gateway["leaks"] == [] and result["leak"] is False


def test_growth_beyond_a_bound_flags_a_leak() -> None:
    growing = soak.analyse(samples(3.0), warmup_s=60)
    assert growing["services"]["gateway"]["rss_slope_mib_per_min"] == pytest.approx(3.0, abs=0.05)
    assert growing["leak"] and "RSS grows 3.0" in growing["services"]["gateway"]["leaks"][0]
    just_under = soak.analyse(samples(0.9), warmup_s=60)
    assert not just_under["leak"]
    fds = soak.analyse(samples(0.0, fds_per_sample=2), warmup_s=60)
    assert fds["leak"] and fds["services"]["gateway"]["leaks"] == ["open fds grew by 90 (bound 80)"]
    # a pool filling once to its bound after a slow spell (as the generator's connections do)
    # is not a leak: growth within the in-flight bound
    pool = soak.analyse(samples(0.0, fds_per_sample=1), warmup_s=60)
    assert not pool["leak"] and pool["services"]["gateway"]["open_fds"]["end"] > 70


def test_the_warmup_is_left_out_and_too_few_samples_refused() -> None:
    # a heap that fills during the warm-up, then stays flat
    data = samples(0.0)
    for s in data[:12]:
        s["services"]["gateway"]["rss_bytes"] = 50 * MiB
    assert not soak.analyse(data, warmup_s=60)["leak"]
    assert soak.analyse(data, warmup_s=0)["leak"]
    with pytest.raises(ValueError, match="1 sample"):
        soak.analyse(samples(0.0, n=3, every_s=60), warmup_s=120)


def test_durations() -> None:
    assert [duration_s(t) for t in ("300", "90s", "5m", "1.5h")] == [300, 90, 300, 5400]
    with pytest.raises(UserError, match="5m"):
        duration_s("five minutes")


def test_a_short_real_soak_writes_its_table_and_json(tmp_path: Path, model_dir: Path) -> None:
    port = free_base_port()
    argv = [*ARCHBENCH, "soak", "--arch", "monolith", "--duration", "10s", "--rate", "20"]
    argv += ["--interval", "1", "--results-dir", str(tmp_path), "--port", str(port)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "soak of monolith" in done.stdout and "RSS slope" in done.stdout
    assert ("no leak" in done.stdout) or ("LEAK flagged" in done.stdout)
    data = json.loads((tmp_path / "latest" / "soak.json").read_text())
    assert data["arch"] == "monolith" and data["rate_rps"] == 20 and data["duration_s"] == 10
    assert set(data["services"]) == {"monolith"}
    monolith = data["services"]["monolith"]
    assert monolith["samples"] >= 5 and monolith["rss_mib"]["start"] > 20
    assert monolith["rss_slope_mib_per_min"] is not None
    assert monolith["open_fds"]["max"] >= monolith["open_fds"]["start"] > 0
    assert monolith["connections"]["max"] >= 1  # the listeners and Locust's connections
    assert isinstance(data["leak"], bool) and len(data["samples"]) >= 8
    assert not processes_on_ports({port + i for i in range(10)})


def test_a_wrong_flag_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*ARCHBENCH, "soak", "--arch", "monolith", "--duration", "soon"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "300, 90s, 5m or 1h" in done.stderr
