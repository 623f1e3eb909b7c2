"""The capacity model: the operational laws on constructed inputs, and its predictions against the
capacities of a real run on this machine (a checked-in fixture, see its `provenance`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import capacity_model as cm
from bench.analyse import cost, demand, plan

FIXTURE = Path(__file__).parent / "fixtures" / "bench-run.json"
# Each measured capacity brackets the truth between the highest passing step and the lowest
# failing one; on the fixture the model must land within 15% of every bracket and 5% on average.
POINT_TOLERANCE = 0.15
MEAN_TOLERANCE = 0.05

THREE = cm.Model(
    "micro",
    (
        cm.Station("gateway", 1.0, 50e6, 50e6),
        cm.Station("features", 4.0, 150e6, 120e6),
        cm.Station("score", 2.0, 150e6, 120e6),
    ),
    base_p99_ms=5.0,
)


@pytest.fixture(scope="module")
def fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def prices() -> cost.Prices:
    return cost.load_prices(cost.DEFAULT_PRICES)


def test_throughput_is_bounded_by_the_bottleneck_station() -> None:
    plenty = cm.Deployment(cores=16)
    assert cm.bottleneck(THREE, plenty).name == "features"
    assert cm.max_rps(THREE, plenty) == pytest.approx(1000 / 4.0)
    # two features replicas move the bottleneck to score: 2/4 ms = 1/2 ms
    doubled = cm.Deployment(cores=16, replicas={"features": 2})
    assert cm.max_rps(THREE, doubled) == pytest.approx(500.0)
    assert cm.bottleneck(THREE, doubled).name in ("features", "score")
    # one core shared by everything: the cores bound it at 1 / (1 + 4 + 2) ms
    assert cm.bottleneck(THREE, cm.Deployment(1)).name == cm.CORES
    assert cm.max_rps(THREE, cm.Deployment(1)) == pytest.approx(1000 / 7.0)
    # replicas of a station that is not the bottleneck change nothing
    assert cm.max_rps(THREE, cm.Deployment(16, {"gateway": 5})) == cm.max_rps(THREE, plenty)
    for deployment in (plenty, doubled, cm.Deployment(1), cm.Deployment(3, {"score": 3})):
        assert cm.capacity_rps(THREE, deployment, 100.0) < cm.max_rps(THREE, deployment)


def test_capacity_grows_with_every_added_core_or_replica() -> None:
    for station in ("gateway", "features", "score"):
        for cores in (0.5, 1, 2, 4, 8, 64):
            values = [
                cm.capacity_rps(THREE, cm.Deployment(cores, {station: n}), 50.0)
                for n in range(1, 7)
            ]
            assert values == sorted(values), (station, cores, values)
    for replicas in ({}, {"features": 3, "score": 2}):
        values = [
            cm.capacity_rps(THREE, cm.Deployment(k, replicas), 50.0) for k in cm.core_steps(64)
        ]
        assert values == sorted(values), replicas
    # the default replica choice too, all the way to 64 cores
    chosen = [cm.capacity_rps(THREE, cm.deployment_for(THREE, k), 50.0) for k in range(1, 65)]
    assert chosen == sorted(chosen) and chosen[-1] > 50 * chosen[0] / 2


def test_latency_grows_with_the_rate_and_the_capacity_meets_the_objective() -> None:
    deployment = cm.Deployment(2, {"features": 2})
    top = cm.max_rps(THREE, deployment)
    rates = [top * f for f in (0, 0.2, 0.5, 0.8, 0.95, 0.999)]
    latencies = [cm.p99_ms(THREE, deployment, r) for r in rates]
    assert latencies == sorted(latencies) and latencies[0] == THREE.base_p99_ms
    assert math.isinf(cm.p99_ms(THREE, deployment, top))
    capacity = cm.capacity_rps(THREE, deployment, 40.0)
    assert (
        cm.p99_ms(THREE, deployment, capacity)
        <= 40.0
        < cm.p99_ms(THREE, deployment, capacity * 1.01)
    )
    # an objective below the no-queueing latency cannot be met at any rate
    assert cm.capacity_rps(THREE, deployment, THREE.base_p99_ms / 2) == 0.0


def test_erlang_c_matches_known_values() -> None:
    assert cm.erlang_c(1, 0.6) == pytest.approx(0.6)  # M/M/1: waits with probability rho
    assert cm.erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2 at rho 0.5
    assert cm.erlang_c(3, 3.0) == 1.0 and cm.erlang_c(4, 0.0) == 0.0
    # the M/M/1 wait: P(W > t) = rho exp(-(mu - lambda) t), so p99 = ln(100 rho) / (mu - lambda)
    queue = cm.Queue("one", 1, 2.0)
    assert cm.wait_p99_ms(queue, 400) == pytest.approx(math.log(80) / (0.5 - 0.4))


def test_memory_and_price_add_up() -> None:
    deployment = cm.Deployment(4, {"features": 3})
    assert cm.memory_bytes(THREE, deployment) == pytest.approx(50e6 + 150e6 + 2 * 120e6 + 150e6)
    hourly = cm.usd_per_hour(THREE, deployment, 0.04, 0.005)
    assert hourly == pytest.approx(4 * 0.04 + 590e6 / 2**30 * 0.005)


def test_the_smallest_deployment_is_the_cheapest_that_suffices() -> None:
    for rate in (10, 300, 3000, 20000):
        chosen = cm.smallest_for(THREE, rate, 50.0, 4096)
        assert chosen is not None
        assert cm.capacity_rps(THREE, chosen, 50.0) >= rate
        steps = cm.core_steps(4096)
        previous = steps[steps.index(chosen.cores) - 1] if chosen.cores != steps[0] else None
        if previous is not None:
            smaller = cm.deployment_for(THREE, previous)
            assert cm.capacity_rps(THREE, smaller, 50.0) < rate
    assert cm.smallest_for(THREE, 1e9, 50.0, 64) is None


def test_the_model_predicts_the_capacities_measured_on_this_machine(
    fixture: dict[str, Any], prices: cost.Prices
) -> None:
    slo_ms = fixture["provenance"]["slo_ms"]
    planned = plan.from_summary(fixture, slo_ms, prices)
    assert planned is not None
    points = planned["validation"]
    # every repetition of both architectures with a capacity is a point
    assert {(p["arch"], p["rep"]) for p in points} == {
        (a, r) for a in ("monolith", "micro") for r in range(3)
    }
    for p in points:
        assert abs(p["error"]) <= POINT_TOLERANCE, p
    assert planned["validation_error"] <= MEAN_TOLERANCE
    # the error is 0 inside the measured bracket, else the distance to it
    for p in points:
        low, high, predicted = p["measured_rps"], p["measured_fail_rps"], p["predicted_rps"]
        inside = low <= predicted and (high is None or predicted <= high)
        assert (p["error"] == 0) == inside


def test_the_model_is_built_from_the_measured_demand(
    fixture: dict[str, Any], prices: cost.Prices
) -> None:
    models = demand.models_of(fixture)
    micro, record = models["micro"]
    capacity_runs = [r for k, r in fixture["runs"].items() if k.startswith("capacity/micro/")]
    for station in micro.stations:
        measured = sorted(
            r["resources"]["services"][station.name]["cpu_ms_per_request"] for r in capacity_runs
        )
        assert station.cpu_ms == pytest.approx(measured[1])  # the median of three
    assert {s.name for s in micro.stations} == {
        "gateway",
        "ingest",
        "validate",
        "features",
        "score",
    }
    assert record["stations"]["gateway"]["compute_ms"] == 0  # the gateway runs no stage
    # stage compute (Server-Timing) is part of each stage service's CPU
    for name in ("features", "score"):
        station = record["stations"][name]
        assert station["compute_ms"] > 0 and station["overhead_ms"] >= 0
    planned = plan.from_summary(fixture, 100.0, prices)
    assert planned is not None
    hops = planned["hops"]
    assert 3 < hops["hops_per_request"] < 4  # 4 hops for predictions, 2 for validations
    assert hops["cpu_ms_per_hop"] > 0


def test_the_plan_answers_which_is_cheaper(fixture: dict[str, Any], prices: cost.Prices) -> None:
    planned = plan.from_summary(fixture, 100.0, prices)
    assert planned is not None
    assert {p["cores"] for p in planned["points"]} == set(range(1, 65))
    for row in planned["by_rate"]:
        choices = {a: row[a] for a in ("monolith", "micro")}
        cheaper = min(choices, key=lambda a: choices[a]["usd_per_million"])
        assert row["cheaper"] == cheaper
        dearer = max(c["usd_per_million"] for c in choices.values())
        assert row["saving"] == pytest.approx(1 - choices[cheaper]["usd_per_million"] / dearer)
    # a point prices its deployment running at its capacity
    for p in planned["points"][:3]:
        assert p["usd_per_million"] == pytest.approx(
            p["usd_per_hour"] / (p["max_rps"] * 3600) * 1e6
        )
