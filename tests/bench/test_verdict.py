"""The verdict on each claim, on constructed run data: each flips when its evidence flips, says
"not measured" when the run lacks the experiment, and quotes the run's own numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.analyse import verdict
from bench.analyse.deployment import Topology, topology
from bench.analyse.verdict import MIXED, NOT_MEASURED, NOT_SUPPORTED, SUPPORTED
from tests.bench import constructed as c

SCALE, ISOLATION, TAKEDOWN, FRAMEWORK, COST, LATENCY, COMPLEXITY, SURFACE, DEPLOY = (
    claim for claim, _, _ in verdict.CLAIMS[:9]
)


def judged(data: dict[str, Any], claim: str, topo: dict[str, Topology] | None = None):
    found = {v.claim: v for v in verdict.judge(c.run(data), topo)}
    assert set(found) == {claim for claim, _, _ in verdict.CLAIMS}
    assert all(v.verdict in verdict.VERDICTS for v in found.values())
    return found[claim]


def test_at_least_the_claims_of_the_issue_are_judged() -> None:
    assert len(verdict.CLAIMS) >= 8
    assert all(v.verdict == NOT_MEASURED for v in verdict.judge(c.run(c.summary({}))))


@pytest.mark.parametrize(
    ("micro_rps", "mono_rps", "expected"),
    [
        ((180, 300), (400, 420), SUPPORTED),  # one service scaled, the monolith barely
        ((180, 185), (400, 420), NOT_SUPPORTED),  # the scaled service added no capacity
        # the monolith gained as much per MiB: scaling one service was no better
        ((180, 300), (400, 800), MIXED),
    ],
)
def test_scaling(micro_rps: tuple, mono_rps: tuple, expected: str) -> None:
    v = judged(c.summary(scaling=c.scaling(micro_rps, mono_rps)), SCALE)
    assert v.verdict == expected
    assert f"capacity {micro_rps[0]} → {micro_rps[1]} req/s" in v.evidence[0]


def test_scaling_not_measured_without_micro_points() -> None:
    data = c.summary(scaling={"monolith": c.scaling((1, 2), (400, 420))["monolith"]})
    assert judged(data, SCALE).verdict == NOT_MEASURED
    assert judged(c.summary(), SCALE).verdict == NOT_MEASURED


@pytest.mark.parametrize(
    ("spared", "expected"),
    [((1.0, 1.0), SUPPORTED), ((0.3, 0.5), NOT_SUPPORTED), ((1.0, 0.5), MIXED)],
)
def test_failure_isolation_of_the_microservices(spared: tuple, expected: str) -> None:
    faults = [
        c.fault("micro", "crash", spared=spared[0]),
        c.fault("micro", "hang", spared=spared[1]),
        c.fault("monolith", "crash", spared=0.0),  # the monolith's do not count here
    ]
    v = judged(c.summary(faults=faults), ISOLATION)
    assert v.verdict == expected
    assert f"succeeded {spared[1]:.0%}" in v.evidence[2]


def test_failure_isolation_not_measured() -> None:
    assert judged(c.summary(), ISOLATION).verdict == NOT_MEASURED
    # every endpoint needs ingest: a fault there cannot show isolation
    only_ingest = c.summary(faults=[c.fault("micro", stage="ingest", spared=0.0)])
    assert judged(only_ingest, ISOLATION).verdict == NOT_MEASURED


def test_invalid_fault_runs_are_left_out_or_judged_flagged_when_there_is_nothing_else() -> None:
    faults = [c.fault("micro", valid=False, spared=0.2), c.fault("micro", "hang")]
    mixed = judged(c.summary(faults=faults), ISOLATION)
    assert mixed.verdict == SUPPORTED  # the valid hang alone
    assert mixed.flags == ("1 invalid micro fault runs left out",)
    only = judged(c.summary(faults=[c.fault("micro", valid=False, spared=0.2)]), ISOLATION)
    assert only.verdict == NOT_SUPPORTED
    assert only.flags == ("judged on 1 invalid micro fault runs only",)


@pytest.mark.parametrize(
    ("spared", "expected"),
    [((0.0, 0.0), SUPPORTED), ((1.0, 1.0), NOT_SUPPORTED), ((0.0, 1.0), MIXED)],
)
def test_one_failure_takes_the_monolith_down(spared: tuple, expected: str) -> None:
    faults = [
        c.fault("monolith", "crash", spared=spared[0]),
        c.fault("monolith", "errors", spared=spared[1]),
    ]
    assert judged(c.summary(faults=faults), TAKEDOWN).verdict == expected
    assert judged(c.summary(), TAKEDOWN).verdict == NOT_MEASURED


def with_flask(**steady: Any) -> dict[str, Any]:
    archs = c.default_archs()
    archs["micro-flask"] = {
        "steady": {"p50": 9.0, "p99": 25.0, "cpu": 5.0, "memory_mib": 380.0, **steady}
    }
    return c.summary(archs)


@pytest.mark.parametrize(
    ("steady", "expected"),
    [
        ({}, SUPPORTED),
        ({"errors": 0.05}, NOT_SUPPORTED),  # the Flask stage did not serve correctly
        ({"p99": 150.0}, MIXED),  # it served, but missed the SLO that micro met
    ],
)
def test_own_framework(steady: dict[str, Any], expected: str) -> None:
    v = judged(with_flask(**steady), FRAMEWORK)
    assert v.verdict == expected
    assert f"p99 {steady.get('p99', 25.0):.1f} ms" in v.evidence[0]


def in_framework_part(**steady: Any) -> dict[str, Any]:
    """micro-flask measured by the default run's framework part, not as one of the archs."""
    flask = c.summary({"micro-flask": {"steady": {"p99": 25.0, **steady}}})
    return c.summary(framework={"runs": flask["runs"], "by_arch": flask["by_arch"]})


@pytest.mark.parametrize(
    ("steady", "expected"),
    [({}, SUPPORTED), ({"errors": 0.05}, NOT_SUPPORTED), ({"p99": 150.0}, MIXED)],
)
def test_own_framework_from_the_default_runs_framework_part(
    steady: dict[str, Any], expected: str
) -> None:
    v = judged(in_framework_part(**steady), FRAMEWORK)
    assert v.verdict == expected
    assert "the framework part, one run at the common load" in v.evidence[0]
    assert "micro (all FastAPI) p99 22.0 ms" in v.evidence


def test_an_invalid_framework_part_is_judged_with_its_flag() -> None:
    v = judged(in_framework_part(invalid=1), FRAMEWORK)
    assert v.verdict == SUPPORTED
    assert v.flags == ("micro-flask steady invalid: rep0",)


def test_own_framework_not_measured() -> None:
    assert judged(c.summary(), FRAMEWORK).verdict == NOT_MEASURED
    flagged = judged(with_flask(invalid=1), FRAMEWORK)
    assert flagged.verdict == SUPPORTED and flagged.flags


def steady(
    micro: dict[str, Any], mono: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    archs = c.default_archs()
    archs["micro"]["steady"].update(micro)
    archs["monolith"]["steady"].update(mono or {})
    return c.summary(archs, **extra)


@pytest.mark.parametrize(
    ("micro", "expected"),
    [
        ({}, SUPPORTED),  # 4.7 vs 2.5 CPU-ms, 366 vs 128 MiB
        ({"cpu": 2.6, "memory_mib": 130.0}, NOT_SUPPORTED),  # within the margin of noise
        ({"cpu": 2.6}, MIXED),  # more memory, not more CPU
    ],
)
def test_cost(micro: dict[str, Any], expected: str) -> None:
    v = judged(steady(micro), COST)
    assert v.verdict == expected
    assert (
        f"CPU per request: micro {micro.get('cpu', 4.7):.2f} ms vs monolith 2.50 ms"
        in v.evidence[0]
    )


def test_cost_counts_the_price_when_there_is_one() -> None:
    cheaper = c.cost({"micro": 0.01, "monolith": 0.02})
    assert judged(steady({}, cost=cheaper), COST).verdict == MIXED
    dearer = c.cost({"micro": 0.05, "monolith": 0.02})
    assert judged(steady({}, cost=dearer), COST).verdict == SUPPORTED
    assert (
        judged(c.summary({"micro": {"capacity": {}}, "monolith": {}}), COST).verdict == NOT_MEASURED
    )


def test_cost_flags_invalid_runs() -> None:
    v = judged(steady({"invalid": 1}), COST)
    assert v.flags and "invalid" in v.flags[0]


@pytest.mark.parametrize(
    ("micro", "expected"),
    [({}, SUPPORTED), ({"p50": 5.2, "p99": 10.5}, NOT_SUPPORTED), ({"p50": 5.2}, MIXED)],
)
def test_latency(micro: dict[str, Any], expected: str) -> None:
    assert judged(steady(micro), LATENCY).verdict == expected


def alike() -> dict[str, Topology]:
    same = topology("monolith")
    return {"monolith": same, "micro": same, "micro-flask": same}


def test_complexity_and_attack_surface() -> None:
    data = c.summary()
    assert judged(data, COMPLEXITY).verdict == SUPPORTED
    assert "hops per prediction: micro 4, monolith 0" in judged(data, COMPLEXITY).evidence
    # the same published port, more listening inside: mixed
    assert judged(data, SURFACE).verdict == MIXED
    # a micro that published every service widens what clients reach
    wide = {**alike(), "micro": Topology(5, 5, 5, 4, 5)}
    assert judged(data, SURFACE, wide).verdict == SUPPORTED
    # the fault-injection listeners are counted, loopback-only as they are
    surface = judged(data, SURFACE).evidence
    assert "admin listeners (loopback only, token required): micro 5, monolith 1" in surface
    # a "micro" deployed like the monolith, without hops, is neither
    flat = c.summary()
    flat["runs"]["steady/micro/rep0"]["stage_ms"] = c.stage_ms(hops=False)
    flat["runs"]["capacity/micro/rep0"]["stage_ms"] = c.stage_ms(hops=False)
    assert judged(flat, COMPLEXITY, alike()).verdict == NOT_SUPPORTED
    assert judged(flat, SURFACE, alike()).verdict == NOT_SUPPORTED
    assert judged(flat, COMPLEXITY).verdict == MIXED  # more processes, but no hops measured


def test_complexity_not_measured_without_server_timing() -> None:
    data = c.summary()
    for run in data["runs"].values():
        run["stage_ms"] = {}
    assert judged(data, COMPLEXITY).verdict == NOT_MEASURED
    assert judged(data, SURFACE).verdict == NOT_MEASURED


@pytest.mark.parametrize(
    ("ready", "topo", "expected"),
    [
        ({"monolith": 1.2, "micro": 2.5}, None, SUPPORTED),
        ({"monolith": 5.0, "micro": 2.5}, None, MIXED),  # fewer units, but slower to ready
        ({"monolith": 5.0, "micro": 2.5}, alike(), NOT_SUPPORTED),
    ],
)
def test_deploy(ready: dict[str, float], topo: dict[str, Topology] | None, expected: str) -> None:
    data = c.summary(cost=c.cost({"monolith": 0.02, "micro": 0.05}, ready))
    v = judged(data, DEPLOY, topo)
    assert v.verdict == expected
    assert f"micro {ready['micro']:.2f} s, monolith {ready['monolith']:.2f} s" in v.evidence[1]
    assert judged(c.summary(), DEPLOY).verdict == NOT_MEASURED


def test_attack_surface_of_a_run_with_secured_hops() -> None:
    run = c.run(c.summary())
    run.meta["config"]["secure_hops"] = True
    surface = {v.claim: v for v in verdict.judge(run)}[SURFACE]
    assert "hops carrying request data over plain HTTP: micro 0, monolith 0" in surface.evidence
    assert any(
        e.startswith("secured hops (--secure-hops): micro: 4 network hops")
        for e in surface.evidence
    )
    # the stages still listen inside the host: what is reachable there is still more
    assert surface.verdict == MIXED


def test_the_price_of_secured_hops_in_one_sentence() -> None:
    line = verdict.price_line(4, 0.4123, 0.2)
    assert (
        line == "securing the 4 hops (mutual TLS) costs 0.412 ms p50 and 0.200 CPU-ms per request"
    )
    assert "unmeasured CPU" in verdict.price_line(4, 0.4, None)


def perf_in(folder: Path, low: dict[str, Any]) -> None:
    """Keep in the run folder a perf.json of one `archbench perf` that measured `low`."""
    from bench.selfcheck.perf.result import PerfConfig, PerfResult
    from bench.selfcheck.perf.stored import save

    (folder / "meta.json").write_text('{"schema_version": 1, "config": {}}')
    result = PerfResult(PerfConfig(model_dir=folder), [1], [0])
    result.low = low
    save(result, folder, folder / "unused")


def test_a_perf_result_kept_in_the_run_gives_the_price(tmp_path: Path) -> None:
    from bench.selfcheck.perf.result import SECURED, Sample

    # two rounds: the price is the median of each round's secured minus plain micro
    perf_in(
        tmp_path,
        {
            "monolith": [Sample(100, 1.0, 2.0, 0.9), Sample(100, 1.1, 2.0, 0.9)],
            "micro": [Sample(100, 3.0, 5.0, 2.0), Sample(100, 4.0, 5.0, 2.2)],
            SECURED: [Sample(100, 3.5, 6.0, 2.4), Sample(100, 4.5, 6.0, 2.6)],
        },
    )
    surface = {v.claim: v for v in verdict.judge(c.run(c.summary(), tmp_path))}[SURFACE]
    assert (
        "archbench perf (same rounds, plain and secured micro): securing the 4 hops (mutual TLS) "
        "costs 0.500 ms p50 and 0.400 CPU-ms per request"
    ) in surface.evidence
    # without perf.json, no price is quoted
    other = tmp_path / "other"
    other.mkdir()
    surface = {v.claim: v for v in verdict.judge(c.run(c.summary(), other))}[SURFACE]
    assert not any("perf" in e for e in surface.evidence)


def test_how_a_failing_request_is_traced_and_what_tracing_costs(tmp_path: Path) -> None:
    from bench.selfcheck.perf.result import UNTRACED, Sample

    complexity = judged(c.summary(), COMPLEXITY)
    assert "logs to read to trace one request: micro 5, monolith 1" in complexity.evidence
    traced = next(e for e in complexity.evidence if e.startswith("tracing a failing request"))
    assert "in 1 log" in traced and "in 5 logs of 5 processes" in traced
    # a micro without hops in the run reaches one process: as many logs as the monolith
    flat = c.summary()
    for name in ("steady/micro/rep0", "capacity/micro/rep0"):
        flat["runs"][name]["stage_ms"] = c.stage_ms(hops=False)
    flat_evidence = judged(flat, COMPLEXITY, alike()).evidence
    assert "logs to read to trace one request: micro 1, monolith 1" in flat_evidence
    # with perf.json in the run, the price per hop is quoted: ((0.1 − 0.02) ms) / 4 hops
    perf_in(
        tmp_path,
        {
            "monolith": [Sample(100, 1.02, 2.0, 0.92)],
            "micro": [Sample(100, 3.1, 5.0, 2.1)],
            "monolith" + UNTRACED: [Sample(100, 1.0, 2.0, 0.9)],
            "micro" + UNTRACED: [Sample(100, 3.0, 5.0, 2.0)],
        },
    )
    found = {v.claim: v for v in verdict.judge(c.run(c.summary(), tmp_path))}[COMPLEXITY]
    assert (
        "archbench perf: tracing costs 20.0 µs p50, 20.0 CPU-µs per hop "
        "(micro 100.0 µs, monolith 20.0 µs per request)"
    ) in found.evidence
    assert not any("tracing costs" in e for e in complexity.evidence)
