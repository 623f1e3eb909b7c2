"""Cost figures: the price file and its mistakes, and the figures of a real run recomputed by hand
from its raw files (start records, samples, latency records)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import cost
from bench.analyse.cost import PriceError
from tests.bench.conftest import ARCHBENCH, bench
from tests.conftest import free_base_port

GiB = 1 << 30


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_the_shipped_prices_name_their_source() -> None:
    prices = cost.load_prices(cost.DEFAULT_PRICES)
    assert prices.vcpu_hour_usd == 0.04048 and prices.gb_hour_usd == 0.004445
    assert "https://aws.amazon.com/fargate/pricing/" in prices.source and "2026" in prices.source
    # an hour of one vCPU and one GB costs exactly the two prices
    assert prices.usd(3600, 3600) == pytest.approx(0.04048 + 0.004445)


def test_the_flag_beats_the_environment_which_beats_the_default() -> None:
    env = {"ARCHBENCH_PRICES": "/from/env.toml"}
    assert cost.prices_path("/from/flag.toml", env) == Path("/from/flag.toml")
    assert cost.prices_path(None, env) == Path("/from/env.toml")
    assert cost.prices_path(None, {}) == cost.DEFAULT_PRICES


GOOD = cost.DEFAULT_PRICES.read_text()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (GOOD.replace("[gb_hour]", "[gb_hours]"), "missing table [gb_hour]"),
        (GOOD.replace("usd = 0.004445", ""), "missing key 'gb_hour.usd'"),
        (GOOD.replace("usd = 0.04048", 'usd = "cheap"'), "'vcpu_hour.usd' must be a positive"),
        (GOOD.replace("usd = 0.04048", "usd = -1"), "'vcpu_hour.usd' must be a positive"),
        (GOOD.replace('as_of = "2026-03"', "", 1), "missing key 'vcpu_hour.as_of'"),
        (GOOD + "\n[unclosed", "is not valid TOML"),
    ],
)
def test_a_bad_price_file_names_what_is_wrong(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(PriceError, match=re.escape(complaint)) as caught:
        cost.load_prices(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_price_file_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(GOOD.replace("[vcpu_hour]", "[cpu]"))
    results = tmp_path / "results"
    done = bench(results, free_base_port(), "--prices", str(prices))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"archbench: prices file {prices}: missing table [vcpu_hour]"
    ]
    assert not results.exists() or not list(results.iterdir())


def _at(rows: list[dict[str, Any]], t: float, key: str) -> float:
    """A cumulative counter at time t, linearly between the samples around it."""
    before = max((r for r in rows if r["t_unix"] <= t), key=lambda r: r["t_unix"])
    after = min((r for r in rows if r["t_unix"] >= t), key=lambda r: r["t_unix"])
    if after["t_unix"] == before["t_unix"]:
        return float(before[key])
    share = (t - before["t_unix"]) / (after["t_unix"] - before["t_unix"])
    return before[key] + (after[key] - before[key]) * share


def test_cost_figures_equal_what_the_raw_samples_give(run_dir: Path) -> None:
    summary = read(run_dir / "summary.json")
    figures = summary["cost"]
    prices = figures["prices"]
    assert prices["file"] == str(cost.DEFAULT_PRICES)
    for arch in ("monolith", "micro"):
        mine = figures[arch]
        starts = [read(p) for p in sorted((run_dir / "raw" / "start" / arch).glob("*.json"))]
        assert len(starts) == mine["ready_s"]["starts"] == 2
        # idle: sampled at the first start of each kind of stack only (later ones record none);
        # RSS averaged over the idle window, summed over services; median over sampled starts
        sampled = [s for s in starts if s["idle"]]
        assert len(sampled) == mine["idle"]["starts"] == 1
        totals = []
        for start in sampled:
            rows = start["idle"]
            names = rows[0]["services"]
            totals.append(
                sum(
                    round(statistics.fmean(r["services"][n]["rss_bytes"] for r in rows))
                    for n in names
                )
            )
        assert mine["idle"]["total_rss_bytes"] == round(statistics.median(totals))
        cpu_percent = [
            100
            * (s["idle"][-1]["cgroup_cpu_ns"] - s["idle"][0]["cgroup_cpu_ns"])
            / 1e9
            / (s["idle"][-1]["t_unix"] - s["idle"][0]["t_unix"])
            for s in sampled
        ]
        assert mine["idle"]["total_cpu_percent"] == pytest.approx(statistics.median(cpu_percent))
        # ready: from the first spawn to the last ready, median over starts
        ready = [max(s["ready_unix"].values()) - min(s["spawned_unix"].values()) for s in starts]
        assert mine["ready_s"]["total_s"] == pytest.approx(statistics.median(ready))
        # steady: cgroup CPU and memory over the measured window, per prediction made
        raw = run_dir / "raw" / "steady" / arch / "rep0"
        record, rows = read(raw / "latency.json"), read(raw / "samples.json")
        start, end = record["measured_unix"]
        cpu_s = (_at(rows, end, "cgroup_cpu_ns") - _at(rows, start, "cgroup_cpu_ns")) / 1e9
        inside = [r["cgroup_memory_bytes"] for r in rows if start <= r["t_unix"] <= end]
        gb_s = statistics.fmean(inside) / GiB * (end - start)
        records = {"predict": 1, "predict-batch": 8}
        # a short run on a slow machine may have answered no batch at all
        timings = record["timings"]
        predicted = sum(timings[n]["n"] * k for n, k in records.items() if n in timings)
        run = mine["runs"]["steady/" + arch + "/rep0"]
        assert run["predictions"] == predicted > 0
        assert mine["cpu_s_per_million"] == pytest.approx(cpu_s / predicted * 1e6)
        assert mine["gb_s_per_million"] == pytest.approx(gb_s / predicted * 1e6)
        usd = (cpu_s * prices["vcpu_hour_usd"] + gb_s * prices["gb_hour_usd"]) / 3600
        assert mine["usd_per_million"] == pytest.approx(usd / predicted * 1e6)
        reserved = (1.0 * prices["vcpu_hour_usd"] + 2 * prices["gb_hour_usd"]) * (end - start)
        assert mine["reserved"]["usd_per_million"] == pytest.approx(
            reserved / 3600 / predicted * 1e6
        )
        assert run["valid"] == summary["runs"]["steady/" + arch + "/rep0"]["validity"]["valid"]


def test_every_service_is_timed_to_ready_and_measured_at_rest(run_dir: Path) -> None:
    figures = read(run_dir / "summary.json")["cost"]
    services = {
        "monolith": {"monolith"},
        "micro": {"gateway", "ingest", "validate", "features", "score"},
    }
    for arch, names in services.items():
        assert set(figures[arch]["ready_s"]["services"]) == names
        assert set(figures[arch]["idle"]["services"]) == names
        for name in names:
            assert 0 < figures[arch]["ready_s"]["services"][name] < 60
            assert figures[arch]["idle"]["services"][name]["rss_bytes"] > 20 << 20
    # five processes hold more memory at rest than one
    assert (
        figures["micro"]["idle"]["total_rss_bytes"] > figures["monolith"]["idle"]["total_rss_bytes"]
    )
    # the gateway is ready only once every stage is (within one polling round)
    for start in (run_dir / "raw" / "start" / "micro").glob("*.json"):
        ready = read(start)["ready_unix"]
        assert ready["gateway"] >= max(v for k, v in ready.items() if k != "gateway") - 0.2


def test_plan_answers_for_the_run(run_dir: Path) -> None:
    import subprocess

    # A generous objective: the short run's latencies suffer from whatever else the machine runs.
    done = subprocess.run(
        [*ARCHBENCH, "plan", str(run_dir), "--rate", "500", "--slo-ms", "10000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "500 req/s at p99 ≤ 10000 ms" in done.stdout
    assert "is cheaper by" in done.stdout and "capacity model" in done.stdout
    planned = read(run_dir / "summary.json")["plan"]
    assert set(planned["model"]) == {"monolith", "micro"}
    # validated against the run's own capacity runs, at the objective they were measured at
    assert {(v["arch"], v["source"]) for v in planned["validation"]} <= {
        ("monolith", "capacity"),
        ("micro", "capacity"),
    }
    assert planned["measured_slo_ms"] == read(run_dir / "meta.json")["config"]["slo_ms"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--rate", "0"], "archbench: --rate must be greater than 0, not 0"),
        (["--rate", "10", "--slo-ms", "-5"], "archbench: --slo-ms must be greater than 0, not -5"),
        (["--rate", "ten"], "invalid float value: 'ten'"),
    ],
)
def test_bad_plan_flags_get_one_line(tmp_path: Path, flags: list[str], expected: str) -> None:
    import subprocess

    done = subprocess.run(
        [*ARCHBENCH, "plan", str(tmp_path), *flags], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr


def test_plan_without_a_run_says_so(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [*ARCHBENCH, "plan", str(tmp_path), "--rate", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == f"archbench: no summary.json in {tmp_path}; run `archbench bench` first\n"
