"""The run's answer in a few sentences, from its data alone: which architecture it favours for this
model at the common load and by how much, which claims held, what would flip the answer, the
run's caveats, and what it can and cannot say of the article's conclusion. Pure: a StoredRun in,
facts and sentences out (the report and the console render them).

Favoured: of three figures (capacity, p99 at the common load, price per million predictions or,
without prices, CPU per request), the architecture better in more of them. Capacity counts only
when the micro/monolith ratio's interval lies wholly on one side of 1; the other two only beyond
the verdict's margin of noise (bench.analyse.verdict.MARGIN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.analyse import verdict
from bench.analyse.headline import format_spread
from bench.store.stored import StoredRun

MONOLITH, MICRO = verdict.MONOLITH, verdict.MICRO
# "The architecture's share of latency falls under 10%": the issue's threshold for "the hops no
# longer matter", the same as the sweep's crossover tolerance.
SHARE_LIMIT = 0.10
SWEEP_COMMAND = "archbench bench --scenario sweep (or make bench-full)"
PLAN_COMMAND = "archbench bench --scenario capacity,steady, then archbench plan --rate R RUN_DIR"
ARTICLE = "small team and lightweight project → monolith; large organisation → microservices"


@dataclass(frozen=True)
class Figure:
    """One figure compared: each architecture's value as shown, and which is better (None:
    neither beyond the noise, or not measured)."""

    name: str
    monolith: str
    micro: str
    better: str | None
    by: str  # how much, in words: "micro/monolith 0.35 [0.28–0.44]", "×1.6"


@dataclass(frozen=True)
class BottomLine:
    """The facts and the sentences that say them, in reading order."""

    favoured: str | None
    rate_rps: float | None
    figures: tuple[Figure, ...]
    held: tuple[str, ...]
    failed: tuple[str, ...]
    mixed: tuple[str, ...]
    unmeasured: tuple[str, ...]
    weight: str
    rate: str
    caveats: tuple[str, ...]
    article: str

    @property
    def sentences(self) -> tuple[str, ...]:
        return (
            self.answer,
            self.claims,
            f"What would flip the answer: {self.weight}; {self.rate}.",
            "Caveats: " + "; ".join(self.caveats) + ".",
            self.article,
        )

    @property
    def answer(self) -> str:
        shown = [f for f in self.figures if f.monolith != "–" or f.micro != "–"]
        parts = "; ".join(
            f"{f.name} {f.monolith} (monolith) against {f.micro} (micro), {f.by}" for f in shown
        )
        if self.favoured is None:
            lead = "This run favours neither architecture beyond its noise"
        else:
            name = "monolith" if self.favoured == MONOLITH else "microservices"
            lead = f"This run favours the {name}"
        load = "" if self.rate_rps is None else f" of {self.rate_rps:g} req/s"
        return f"{lead}, for this model at the common load{load}: {parts or 'nothing measured'}."

    @property
    def claims(self) -> str:
        groups = [
            ("held", self.held),
            ("did not hold", self.failed),
            ("held in part", self.mixed),
            ("were not measured", self.unmeasured),
        ]
        said = [f"{name}: {', '.join(claims)}" for name, claims in groups if claims]
        if not said:
            return "No claim was judged."
        total = sum(len(claims) for _, claims in groups)
        return f"Of {total} claims, those that " + "; those that ".join(said) + "."


def _steady(summary: Mapping[str, Any], arch: str, key: str) -> float | None:
    figures = ((summary.get("by_arch") or {}).get(arch) or {}).get("steady") or {}
    return (figures.get(key) or {}).get("median")


def _lower(name: str, mono: float | None, micro: float | None, unit: str, digits: int) -> Figure:
    """A figure where lower is better, compared beyond the margin of noise."""
    if mono is None or micro is None:
        shown = [("–" if v is None else f"{v:.{digits}f} {unit}") for v in (mono, micro)]
        return Figure(name, shown[0], shown[1], None, "not measured on both")
    better = MONOLITH if verdict.more(micro, mono) else MICRO if verdict.more(mono, micro) else None
    by = f"micro ×{micro / mono:.2f}" if mono else "–"
    return Figure(name, f"{mono:.{digits}f} {unit}", f"{micro:.{digits}f} {unit}", better, by)


def _capacity(summary: Mapping[str, Any]) -> Figure:
    by_arch = summary.get("by_arch") or {}
    shown = [
        format_spread(((by_arch.get(a) or {}).get("capacity") or {}).get("capacity_rps"), digits=0)
        for a in (MONOLITH, MICRO)
    ]
    ratio = ((summary.get("ratios") or {}).get(f"{MICRO}/{MONOLITH}") or {}).get("capacity_rps")
    if not ratio:
        medians = [
            (((by_arch.get(a) or {}).get("capacity") or {}).get("capacity_rps") or {}).get("median")
            for a in (MONOLITH, MICRO)
        ]
        mono, micro = medians
        if mono is None or micro is None or not mono:
            return Figure("capacity at the SLO", shown[0], shown[1], None, "not measured on both")
        more = verdict.more
        better = MONOLITH if more(mono, micro) else MICRO if more(micro, mono) else None
        by = f"micro/monolith {micro / mono:.2f} (no paired searches: no interval)"
        return Figure("capacity at the SLO (req/s)", shown[0], shown[1], better, by)
    low, high = ratio["low"], ratio["high"]
    better = MONOLITH if high < 1 else MICRO if low > 1 else None
    by = (
        f"micro/monolith {ratio['median']:.2f} [{low:.2f}–{high:.2f}] over {ratio['n']} "
        f"paired search{'es' if ratio['n'] != 1 else ''}"
        + ("" if better else ", an interval that includes 1")
    )
    return Figure(
        "capacity at the SLO (req/s, median [95% interval])", shown[0], shown[1], better, by
    )


def _price(summary: Mapping[str, Any]) -> Figure:
    cost = summary.get("cost") or {}
    usd = [(cost.get(a) or {}).get("usd_per_million") for a in (MONOLITH, MICRO)]
    if None not in usd:
        return _lower("price per million predictions", usd[0], usd[1], "USD", 4)
    cpu = [_steady(summary, a, "cpu_ms_per_request") for a in (MONOLITH, MICRO)]
    return _lower("CPU per request", cpu[0], cpu[1], "ms", 2)


def weight_flip(summary: Mapping[str, Any]) -> str:
    """From the sweep: the lightest point (by stage compute) where the microservices' share of
    latency falls under SHARE_LIMIT; or how close the heaviest came; or the command to run."""
    points = [
        p
        for p in summary.get("sweep") or []
        if p.get("arch") == MICRO and p.get("arch_share_of_latency") is not None
    ]
    if not points:
        return (
            "the model weight at which the architecture's share of latency falls under "
            f"{SHARE_LIMIT:.0%} was not measured in this run ({SWEEP_COMMAND} measures it)"
        )
    points.sort(key=lambda p: p.get("stage_compute_ms") or 0.0)
    under = [p for p in points if p["arch_share_of_latency"] < SHARE_LIMIT]

    def where(p: dict[str, Any]) -> str:
        compute = p.get("stage_compute_ms")
        ms = "" if compute is None else f"{compute:.1f} ms of stage compute per request, "
        return (
            f"the {p['model']} model with batches of {p['batch']} ({ms}the architecture "
            f"{p['arch_share_of_latency']:.0%} of the microservices' latency)"
        )

    if under:
        return (
            "a heavier model: the architecture's share of the microservices' latency falls "
            f"under {SHARE_LIMIT:.0%} from {where(under[0])}"
        )
    return (
        f"no swept model brought the architecture's share of latency under {SHARE_LIMIT:.0%}; "
        f"the heaviest point was {where(points[-1])}"
    )


def rate_flip(summary: Mapping[str, Any]) -> str:
    """From the plan: the rate at which scaling the microservices' busy stage (and paying for
    its replicas' memory) starts or stops being cheaper than scaling the whole monolith."""
    plan = summary.get("plan") or {}
    rates = [r for r in plan.get("by_rate") or [] if r.get("cheaper")]
    if not rates:
        return (
            "the rate at which scaling one stage pays for its extra memory was not planned in "
            f"this run ({PLAN_COMMAND} gives it)"
        )
    memory = (
        "a further replica's memory as the scaling part measured it"
        if (summary.get("scaling") or {}).get(MICRO)
        else "a further replica's memory taken equal to the first (no scaling part ran)"
    )
    names = {MONOLITH: "the monolith", MICRO: "the microservices"}
    switch = next((r for r, before in zip(rates[1:], rates, strict=False)
                   if r["cheaper"] != before["cheaper"]), None)  # fmt: skip
    if switch is not None:
        return (
            f"the capacity plan prices {names.get(switch['cheaper'], switch['cheaper'])} "
            f"cheaper from {switch['rate_rps']:g} req/s (by {switch['saving']:.0%}; {memory})"
        )
    cheaper = rates[0]["cheaper"]
    pays = "always pays" if cheaper == MICRO else "never pays"
    return (
        f"the capacity plan prices {names.get(cheaper, cheaper)} cheaper at every planned rate "
        f"from {rates[0]['rate_rps']:g} to {rates[-1]['rate_rps']:g} req/s: scaling one stage "
        f"{pays} for its extra memory there ({memory})"
    )


def caveats(run: StoredRun) -> tuple[str, ...]:
    """What limits this run's reach: one machine, the network, the budget mode, the status."""
    meta, summary = run.meta, run.summary
    environment = meta.get("environment") or {}
    backend = meta.get("backend") or {"backend": "local"}
    cpu = environment.get("cpu_model")
    count = f", {environment['cpu_count']} CPUs" if environment.get("cpu_count") else ""
    where_run = f" ({cpu}{count})" if cpu else ""
    machine = f"one machine{where_run}, the load generator on the same host"
    if backend.get("backend") == "docker":
        mode = backend.get("mode", "–")
        where = f"hops over Docker's bridge network on that host, budget mode {mode}"
    else:
        where = "hops over loopback, never a real network; one shared CPU budget per stack"
    out = [machine, where]
    invalid = sum(
        1
        for r in (summary.get("runs") or {}).values()
        if not (r.get("validity") or {}).get("valid")
    )
    if invalid:
        out.append(f"{invalid} of its load runs were invalid (flagged ⚠ in the tables)")
    if summary.get("status") != "complete":
        out.append(f"the run is {summary.get('status')}: {summary.get('reason')}")
    return tuple(out)


def article(favoured: str | None) -> str:
    """The article's conclusion, restated as what this run can and cannot say."""
    if favoured == MONOLITH:
        said = (
            "points, for this model at this load on one machine, where its first half points: "
            "to the monolith"
        )
    elif favoured == MICRO:
        said = (
            "points to the microservices for this model at this load on one machine: if the "
            "project is lightweight, against its first half"
        )
    else:
        said = "finds no technical winner for this model at this load: it does not decide"
    return (
        f"The article concludes: {ARTICLE}. This run {said}. Whether a project is lightweight "
        "is the reader's call, and team size and organisation are not something a benchmark "
        "measures: what the article says of large organisations is neither supported nor "
        "refuted here."
    )


def bottom_line(run: StoredRun, verdicts: list[verdict.Verdict] | None = None) -> BottomLine:
    """The run's bottom line (`verdicts` defaults to bench.analyse.verdict.judge(run))."""
    summary = run.summary
    p99 = [_steady(summary, a, "p99_ms") for a in (MONOLITH, MICRO)]
    figures = (
        _capacity(summary),
        _lower("p99 at the common load", p99[0], p99[1], "ms", 1),
        _price(summary),
    )
    wins = {a: sum(1 for f in figures if f.better == a) for a in (MONOLITH, MICRO)}
    favoured = None if wins[MONOLITH] == wins[MICRO] else max(wins, key=wins.__getitem__)
    judged = verdicts if verdicts is not None else verdict.judge(run)

    def of(kind: str) -> tuple[str, ...]:
        return tuple(v.claim for v in judged if v.verdict == kind)

    return BottomLine(
        favoured=favoured,
        rate_rps=summary.get("rate_rps"),
        figures=figures,
        held=of(verdict.SUPPORTED),
        failed=of(verdict.NOT_SUPPORTED),
        mixed=of(verdict.MIXED),
        unmeasured=of(verdict.NOT_MEASURED),
        weight=weight_flip(summary),
        rate=rate_flip(summary),
        caveats=caveats(run),
        article=article(favoured),
    )
