"""The verdict on each claim the articles make, computed from one run's data by code: supported,
not supported, mixed, or not measured in this run (when the run lacks the experiment)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.analyse import breakdown, headline
from bench.analyse import runs as analysis
from bench.analyse import update as updates
from bench.analyse.deployment import Topology, topology
from bench.store.stored import StoredRun

SUPPORTED, NOT_SUPPORTED, MIXED = "supported", "not supported", "mixed"
NOT_MEASURED = "not measured in this run"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, MIXED, NOT_MEASURED)
MONOLITH, MICRO, MICRO_FLASK = "monolith", "micro", "micro-flask"

# Two figures differ only beyond 10%: three repetitions of one configuration on the 2-core
# machine spread up to -10%..+10% around their median in CPU per request, p50 and p99 (steady).
MARGIN = 0.10
# An endpoint kept serving through a fault at the bar of an error-free run: at most 1% failed.
KEPT_SERVING = 1 - analysis.MAX_ERROR_RATE
# Added replicas scale only if they add at least this much capacity, and more than the noise:
# the scaled capacity must clear the one-replica search's bracket (its lowest failing rate).
SCALING_GAIN = 0.10


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table; `flags` say which evidence comes from invalid runs."""

    claim: str
    experiment: str
    evidence: tuple[str, ...]
    verdict: str
    flags: tuple[str, ...] = ()


def tally(holds: Sequence[bool]) -> str:
    """Supported when every test of the claim holds, not supported when none does."""
    return SUPPORTED if all(holds) else NOT_SUPPORTED if not any(holds) else MIXED


def more(a: float, b: float) -> bool:
    """`a` is more than `b` beyond the margin of noise."""
    return a > b * (1 + MARGIN)


def _median(run: StoredRun, arch: str, scenario: str, key: str) -> float | None:
    figures = (run.summary.get("by_arch") or {}).get(arch, {}).get(scenario) or {}
    return (figures.get(key) or {}).get("median")


def _invalid(run: StoredRun, scenario: str, *archs: str) -> tuple[str, ...]:
    return tuple(
        f"{arch} {scenario} {flag}"
        for arch in archs
        for flag in headline.run_flags(run, scenario, arch)
        if flag.startswith("invalid")
    )


# A claim's judge gives its verdict, the evidence lines and the flags on that evidence.
Judged = tuple[str, tuple[str, ...], tuple[str, ...]]
Judge = Callable[[StoredRun, dict[str, Topology]], Judged]


def _scaled(points: list[dict[str, Any]]) -> tuple[float, float, str] | None:
    """Capacity gain from the fewest to the most replicas, MiB added per req/s gained, and the
    line saying so; None without two points or a first capacity."""
    points = sorted(points, key=lambda p: p["replicas"])
    if len(points) < 2 or not points[0].get("capacity_rps"):
        return None
    first, last = points[0], points[-1]
    start_rps, end_rps = first["capacity_rps"], last.get("capacity_rps") or 0.0
    added_mib = (last["memory_bytes"] - first["memory_bytes"]) / 2**20
    mib_per_rps = added_mib / (end_rps - start_rps) if end_rps > start_rps else float("inf")
    gain = end_rps / start_rps - 1
    text = (
        f"{first['replicas']} → {last['replicas']} × {last['scaled']}: capacity "
        f"{start_rps:.0f} → {end_rps:.0f} req/s ({gain:+.0%}) for {added_mib:+.0f} MiB"
    )
    bracket = first.get("fail_rps")
    if bracket and end_rps <= bracket:
        # within the one-replica search's own bracket: a gain noise alone could make
        return min(gain, 0.0), mib_per_rps, f"{text}, inside the first bracket (< {bracket:.0f})"
    return gain, mib_per_rps, text


def _scaling(run: StoredRun, _: dict[str, Topology]) -> Judged:
    scaling = run.summary.get("scaling") or {}
    micro, mono = (_scaled(scaling.get(arch) or []) for arch in (MICRO, MONOLITH))
    if micro is None:
        why = (
            "the scaling part ran, but gave micro no capacity to scale from"
            if len(scaling.get(MICRO) or []) >= 2
            else "the scaling scenario was not run for micro"
        )
        return NOT_MEASURED, (why,), ()
    evidence: tuple[str, ...] = (f"micro: {micro[2]}",)
    if mono is not None:
        evidence += (f"monolith: {mono[2]}",)
    if micro[0] < SCALING_GAIN:
        return NOT_SUPPORTED, evidence, ()
    if mono is not None and mono[0] >= SCALING_GAIN and not more(mono[1], micro[1]):
        why = "scaling the whole monolith added capacity for no more memory per req/s"
        return MIXED, (*evidence, why), ()
    return SUPPORTED, evidence, ()


def _fault_runs(run: StoredRun, arch: str) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """Fault runs of an architecture where some endpoint does not need the faulty stage, and the
    flags on them: the valid ones (the invalid left out, counted), or when none is valid the
    invalid ones, flagged, as the other verdicts judge invalid runs rather than none."""
    faults = [f for f in run.summary.get("faults") or [] if f.get("arch") == arch]
    tested = [f for f in faults if spared_success(f) is not None]
    valid = [f for f in tested if (f.get("validity") or {}).get("valid")]
    invalid = sum(1 for f in faults if not (f.get("validity") or {}).get("valid"))
    if not valid and tested:
        return tested, (f"judged on {len(tested)} invalid {arch} fault runs only",)
    return valid, (f"{invalid} invalid {arch} fault runs left out",) if invalid else ()


def spared_success(fault: dict[str, Any]) -> float | None:
    """The lowest success during the fault among endpoints that do not need the faulty stage
    (None when every endpoint needs it)."""
    spared = [e for e in fault["endpoints"].values() if not e["needs_stage"]]
    return min(e["success_rate_during_fault"] for e in spared) if spared else None


def _fault_name(f: dict[str, Any]) -> str:
    resilience = ", resilience on" if f.get("resilience") else ""
    return f"{f['fault']} in {f['stage']}{resilience} (rep {f.get('rep', 0)})"


def _faults(run: StoredRun, arch: str, kept: bool) -> Judged:
    """Does each fault run keep (kept=True) or take down (False) the spared endpoints?"""
    tested, flags = _fault_runs(run, arch)
    if not any(f.get("arch") == arch for f in run.summary.get("faults") or []):
        return NOT_MEASURED, (f"the fault scenario was not run for {arch}",), ()
    if not tested:
        return (
            NOT_MEASURED,
            (f"no {arch} fault run with an endpoint that skips the stage",),
            flags,
        )
    spared = [spared_success(f) or 0.0 for f in tested]
    holds = [(success >= KEPT_SERVING) == kept for success in spared]
    lines = [
        f"{_fault_name(f)}: endpoints that skip {f['stage']} succeeded {success:.0%} during it"
        for f, success in zip(tested, spared, strict=True)
    ]
    summary = f"{sum(holds)} of {len(tested)} {arch} fault runs " + (
        f"kept the other endpoints serving (≥ {KEPT_SERVING:.0%})"
        if kept
        else f"took the other endpoints down (< {KEPT_SERVING:.0%} success)"
    )
    return tally(holds), (summary, *lines), flags


def _flask_runs(run: StoredRun) -> tuple[dict[str, Any], dict[str, Any], str]:
    """micro-flask's figures by scenario, its per-run summaries, and where they come from: one
    of the run's architectures, else the default run's framework part (one steady run)."""
    flask = (run.summary.get("by_arch") or {}).get(MICRO_FLASK)
    if flask:
        return flask, run.summary.get("runs") or {}, "the run's micro-flask stacks"
    part = run.summary.get("framework") or {}
    found = (part.get("by_arch") or {}).get(MICRO_FLASK) or {}
    return found, part.get("runs") or {}, "the framework part, one run at the common load"


def _framework(run: StoredRun, topo: dict[str, Topology]) -> Judged:
    flask, per_run, source = _flask_runs(run)
    scenario = next((s for s in ("steady", "capacity", "spike", "ramp") if s in flask), None)
    if scenario is None:
        return NOT_MEASURED, ("no micro-flask run in this run",), ()
    flags = tuple(
        f"{MICRO_FLASK} {scenario} invalid: {key.rsplit('/', 1)[1]}"
        for key, summary in sorted(per_run.items())
        if key.startswith(f"{scenario}/{MICRO_FLASK}/")
        and not (summary.get("validity") or {}).get("valid", False)
    )
    errors = (flask[scenario].get("error_rate") or {}).get("median") or 0.0
    p99 = (flask[scenario].get("p99_ms") or {}).get("median")
    micro_p99 = _median(run, MICRO, scenario, "p99_ms")
    evidence = [
        f"features on Flask under gunicorn, the other stages on FastAPI ({source}): "
        f"{scenario} errors {errors:.2%}, p99 {p99 or float('nan'):.1f} ms "
        f"(SLO {run.slo_ms:.0f} ms)",
    ]
    if micro_p99 is not None:
        evidence.append(f"micro (all FastAPI) p99 {micro_p99:.1f} ms")
    if errors >= analysis.MAX_ERROR_RATE or p99 is None:
        return NOT_SUPPORTED, tuple(evidence), flags
    if p99 > run.slo_ms and (micro_p99 is None or micro_p99 <= run.slo_ms):
        evidence.append("it served correctly but missed the SLO that micro met")
        return MIXED, tuple(evidence), flags
    return SUPPORTED, tuple(evidence), flags


# A figure of both: its name, micro's and the monolith's value (None: not measured), unit, digits.
Pair = tuple[str, float | None, float | None, str, int]


def _compared(pairs: Sequence[Pair]) -> tuple[list[bool], tuple[str, ...]]:
    """For each figure measured on both: is micro's higher beyond the margin, and the line."""
    known = [(n, a, b, u, d) for n, a, b, u, d in pairs if a is not None and b is not None]
    return [more(a, b) for _, a, b, _, _ in known], tuple(
        f"{name}: micro {a:.{d}f} {unit} vs monolith {b:.{d}f} {unit} (×{a / b:.2f})"
        for name, a, b, unit, d in known
    )


def _steady(run: StoredRun, key: str, scale: float = 1.0) -> tuple[float | None, float | None]:
    values = (_median(run, arch, "steady", key) for arch in (MICRO, MONOLITH))
    return tuple(None if v is None else v * scale for v in values)  # type: ignore[return-value]


def _cost(run: StoredRun, _: dict[str, Topology]) -> Judged:
    cpu, memory = _steady(run, "cpu_ms_per_request"), _steady(run, "memory_bytes", 2**-20)
    if None in cpu and None in memory:
        return NOT_MEASURED, ("the steady scenario was not run for both",), ()
    cost = run.summary.get("cost") or {}
    usd = [(cost.get(a) or {}).get("usd_per_million") for a in (MICRO, MONOLITH)]
    holds, evidence = _compared(
        [
            ("CPU per request", *cpu, "ms", 2),
            ("memory of the stack", *memory, "MiB", 0),
            ("price per million predictions", usd[0], usd[1], "USD", 3),
        ]
    )
    return tally(holds), evidence, _invalid(run, "steady", MICRO, MONOLITH)


def _hops(run: StoredRun) -> dict[str, breakdown.Split] | None:
    splits = {arch: breakdown.split(run, arch) for arch in (MICRO, MONOLITH)}
    return None if None in splits.values() else splits  # type: ignore[return-value]


def _hop_line(arch: str, split: breakdown.Split) -> str:
    hop_ms = sum(split.hops_ms.values())
    return (
        f"{arch}: {split.hops} network hops per prediction, {hop_ms:.2f} ms of the "
        f"{split.total_ms:.2f} ms handled ({hop_ms / split.total_ms:.0%}; {split.scenario})"
    )


def _complexity(run: StoredRun, topo: dict[str, Topology]) -> Judged:
    splits = _hops(run)
    if splits is None:
        return NOT_MEASURED, ("no Server-Timing data for both micro and monolith",), ()
    micro, mono = topo[MICRO], topo[MONOLITH]
    checks = [
        ("processes", micro.units, mono.units),
        ("listening ports", micro.listening_ports, mono.listening_ports),
        ("settings to keep in sync", micro.config_items, mono.config_items),
        ("hops per prediction", splits[MICRO].hops, splits[MONOLITH].hops),
    ]
    logs = {arch: split.hops + 1 for arch, split in splits.items()}
    checks.append(("logs to read to trace one request", logs[MICRO], logs[MONOLITH]))
    evidence = tuple(f"{name}: micro {a}, monolith {b}" for name, a, b in checks)
    lines = (_hop_line(MICRO, splits[MICRO]), _trace_line(logs), *_trace_price(run))
    return tally([a > b for _, a, b in checks]), (*evidence, *lines), ()


def _trace_line(logs: dict[str, int]) -> str:
    """How a failing request is traced (serving/trace.py), from the processes it reached."""
    return (
        "tracing a failing request: its error body names its trace_id and stage; monolith: "
        f"grep the trace-id in {logs[MONOLITH]} log ({logs[MONOLITH]} access line, the stage "
        f"in the body); micro: in {logs[MICRO]} logs of {logs[MICRO]} processes (the gateway "
        f"and each stage it called, {logs[MICRO]} access lines to put in order by time; the "
        "body's stage names the log with the failure)"
    )


def _trace_price(run: StoredRun) -> tuple[str, ...]:
    """What tracing costs, when `archbench perf` kept its price in the run (µs)."""
    price = (run.perf or {}).get("tracing_price") or {}
    if "per hop p50" not in price:
        return ()
    cpu = price.get("per hop CPU")
    cpu_text = "" if cpu is None else f", {cpu:.1f} CPU-µs"
    return (
        f"archbench perf: tracing costs {price['per hop p50']:.1f} µs p50{cpu_text} per hop "
        f"(micro {price['micro p50']:.1f} µs, monolith {price['monolith p50']:.1f} µs per "
        "request)",
    )


def price_line(hops: int, p50_ms: float, cpu_ms: float | None) -> str:
    """The price of secured hops in one sentence."""
    cpu = "an unmeasured CPU cost" if cpu_ms is None else f"{cpu_ms:.3f} CPU-ms"
    return f"securing the {hops} hops (mutual TLS) costs {p50_ms:.3f} ms p50 and {cpu} per request"


def _surface(run: StoredRun, topo: dict[str, Topology]) -> Judged:
    splits = _hops(run)
    if splits is None:
        return NOT_MEASURED, ("no Server-Timing data for both micro and monolith",), ()
    micro, mono = topo[MICRO], topo[MONOLITH]
    inside = (
        micro.listening_ports - micro.published_ports,
        mono.listening_ports - mono.published_ports,
    )
    # A run with --secure-hops measured the micro hops over mutual TLS: none carry plain data.
    secured = bool(run.config.get("secure_hops"))
    plain = 0 if secured else splits[MICRO].hops
    evidence: tuple[str, ...] = (
        f"published ports: micro {micro.published_ports}, monolith {mono.published_ports}",
        f"internal listening ports: micro {inside[0]}, monolith {inside[1]}",
        f"hops carrying request data over plain HTTP: micro {plain}, "
        f"monolith {splits[MONOLITH].hops}",
        f"admin listeners (loopback only, token required): micro {micro.admin_listeners}, "
        f"monolith {mono.admin_listeners}",
    )
    if secured:
        evidence += (f"secured hops (--secure-hops): {_hop_line(MICRO, splits[MICRO])}",)
    perf = run.perf or {}
    if perf.get("secured_price"):
        price = perf["secured_price"]
        line = price_line(perf["hops"], price["p50_ms"], price["cpu_ms"])
        evidence += (f"archbench perf (same rounds, plain and secured micro): {line}",)
    if micro.published_ports > mono.published_ports:
        return SUPPORTED, evidence, ()
    if inside[0] > inside[1] or splits[MICRO].hops > splits[MONOLITH].hops:
        why = "what clients can reach is the same; more is reachable inside the host or network"
        return MIXED, (*evidence, why), ()
    return NOT_SUPPORTED, evidence, ()


def _deploy(run: StoredRun, topo: dict[str, Topology]) -> Judged:
    units = f"units to deploy: micro {topo[MICRO].units}, monolith {topo[MONOLITH].units}"
    cost = run.summary.get("cost") or {}
    ready = [((cost.get(a) or {}).get("ready_s") or {}).get("total_s") for a in (MICRO, MONOLITH)]
    micro_s, mono_s = ready
    if micro_s is None or mono_s is None:
        return NOT_MEASURED, (units, "time to ready was not measured in this run"), ()
    evidence = (units, f"cold start to ready: micro {micro_s:.2f} s, monolith {mono_s:.2f} s")
    holds = [topo[MONOLITH].units < topo[MICRO].units, not more(mono_s, micro_s)]
    return tally(holds), evidence, ()


def _latency(run: StoredRun, _: dict[str, Topology]) -> Judged:
    holds, evidence = _compared(
        [(f"{p} at the common load", *_steady(run, f"{p}_ms"), "ms", 1) for p in ("p50", "p99")]
    )
    if not holds:
        return NOT_MEASURED, ("the steady scenario was not run for both",), ()
    return tally(holds), evidence, _invalid(run, "steady", MICRO, MONOLITH)


def _update(run: StoredRun, _: dict[str, Topology]) -> Judged:
    """The article's S2 ("fixing it does not pause or redeploy the whole application"): a new
    model version goes into micro's score alone while the endpoints that skip it keep serving,
    and a rolling update of its replicas loses nothing; against it, the monolith restarts whole,
    and if its rolling reload of workers loses nothing too, the advantage is not micro's alone."""
    entries = {(e["arch"], e["variant"]): e for e in run.summary.get("update") or []}
    part, whole = entries.get((MICRO, "restart")), entries.get((MONOLITH, "restart"))
    if part is None or whole is None:
        return NOT_MEASURED, ("the update scenario was not run for both",), ()
    spared = updates.spared_success(part)
    holds = [spared is not None and spared >= KEPT_SERVING, whole["failed_in_window"] > 0]
    rolled = [entries.get((arch, "rolling")) for arch in (MICRO, MONOLITH)]
    if rolled[0] is not None:
        holds.append(rolled[0]["failed_in_window"] == 0)
    if rolled[1] is not None:  # the monolith's own way of not stopping
        holds.append(rolled[1]["failed_in_window"] > 0)
    shown = [e for e in entries.values() if e is not None]
    flags = tuple(f"{e['arch']} {e['variant']}: {e['error']}" for e in shown if e.get("error"))
    return tally(holds), tuple(updates.evidence(e) for e in shown), flags


CLAIMS: tuple[tuple[str, str, Judge], ...] = (
    (
        "Microservices scale independently",
        "scaling: replicas of the bottleneck service vs workers of the whole monolith",
        _scaling,
    ),
    (
        "A failure in one service affects only that service",
        "faults injected into one micro stage; success of the endpoints that skip it",
        lambda run, _: _faults(run, MICRO, kept=True),
    ),
    (
        "In a monolith one failure takes down the whole application",
        "the same faults in the monolith; success of the endpoints that skip the stage",
        lambda run, _: _faults(run, MONOLITH, kept=False),
    ),
    (
        "Each service can use its own framework",
        "micro-flask (features on Flask/gunicorn) served under the same load",
        _framework,
    ),
    (
        "Microservices cost more (resources per service)",
        "steady scenario at the common load: CPU per request, memory, price",
        _cost,
    ),
    (
        "Calls between services add latency",
        "steady scenario at the common load: p50 and p99",
        _latency,
    ),
    (
        "More services mean more complexity and harder debugging",
        "topology, the hops each request takes (Server-Timing), the logs a trace-id is in",
        _complexity,
    ),
    (
        "Network communication widens the attack surface",
        "published and listening ports (topology), hops carrying data (Server-Timing)",
        _surface,
    ),
    (
        "A monolith is easier to deploy",
        "units to deploy (topology) and cold start to ready (cost scenario)",
        _deploy,
    ),
    (
        "A part can be updated without stopping the whole application",
        "a new model version deployed under the steady load: the monolith restarted and its "
        "workers reloaded in turn; micro's score restarted alone and its two replicas in turn",
        _update,
    ),
)


def judge(run: StoredRun, topo: dict[str, Topology] | None = None) -> list[Verdict]:
    """Every claim's verdict; `topo` defaults to the architectures' real topology."""
    topo = topo or {arch: topology(arch) for arch in (MONOLITH, MICRO, MICRO_FLASK)}
    verdicts = []
    for claim, experiment, judge_claim in CLAIMS:
        verdict, evidence, flags = judge_claim(run, topo)
        verdicts.append(Verdict(claim, experiment, evidence, verdict, flags))
    return verdicts
