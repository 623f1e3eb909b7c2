"""The report's opening sections: the answer first (bench.analyse.bottomline), what was run, on
what, whether it completed, and the verdict on each claim (computed by bench.analyse.verdict)."""

from __future__ import annotations

from typing import Any

from bench.analyse import bottomline, verdict
from bench.config import scenario_repeats
from bench.load.shapes import SCENARIOS
from bench.report.document import Cell, Paragraph, Section, Table, cells
from bench.store.stored import StoredRun


def planned(run: StoredRun) -> list[str]:
    """The load scenarios' run keys the configuration asked for, in order (the fault runs and
    the parts have keys of their own)."""
    config = run.config
    return [
        f"{scenario}/{arch}/rep{rep}"
        for scenario in config.get("scenarios", [])
        if scenario in SCENARIOS
        for arch in config.get("archs", [])
        for rep in range(
            scenario_repeats(
                scenario,
                int(config.get("repeat", 1)),
                str(config.get("profile", "default")),
                config.get("spike_repeat"),
            )
        )
    ]


def _gib(value: Any) -> str:
    return f"{value / 2**30:g} GiB" if isinstance(value, int | float) else "–"


def model_fact(meta: dict[str, Any]) -> str:
    """The served model as meta.json records it: name, version, task and the model file's
    sha256 (its first 12 hex digits), and its folder."""
    model = meta.get("model")
    if not isinstance(model, dict):
        return "not recorded"
    sha256 = str(model.get("sha256") or "unknown")[:12]
    return (
        f"{model.get('name', '–')} {model.get('version', '–')} ({model.get('task', '–')}), "
        f"sha256 {sha256}, from {model.get('directory', '–')}"
    )


def backend_fact(meta: dict[str, Any]) -> str:
    """Where the stacks ran, as meta.json records it (runs before the Docker backend: local)."""
    backend = meta.get("backend") or {"backend": "local"}
    if backend.get("backend") == "remote":
        where = ", ".join(f"{t['arch']} at {t['url']}" for t in backend.get("targets", []))
        gaps = "; ".join(backend.get("not_measured", []))
        return f"remote targets the harness did not start: {where}. Not measured: {gaps}"
    if backend.get("backend") != "docker":
        return "local processes, the stack's processes sharing one cgroup"
    mode = backend.get("mode", "–")
    split = (
        # Where the partition figures' cost comes from (README, "Running on Docker").
        "each container its own CPU cap, its healthchecks' CPU included; a container past its "
        "quota waits for the next 100-ms period"
        if mode == "partition"
        else "the containers under one CPU cap"
    )
    return f"Docker Engine {backend.get('engine', '–')}, budget mode {mode} ({split})"


def overview_section(run: StoredRun) -> Section:
    meta, config, summary = run.meta, run.config, run.summary
    environment = meta.get("environment") or {}
    git = environment.get("git") or {}
    budget = config.get("budget") or {}
    cpus = meta.get("cpus") or {}
    commit = (git.get("commit") or "unknown")[:12] + (" (uncommitted)" if git.get("dirty") else "")
    status = summary.get("status", "unknown")
    if summary.get("reason"):
        status += f" ({summary['reason']})"
    facts = [
        ("run folder", run.path.name),
        ("status", status),
        ("started", str(meta.get("started_at", "–"))),
        ("model", model_fact(meta)),
        ("where the stacks ran", backend_fact(meta)),
        ("architectures", ", ".join(config.get("archs", []))),
        ("scenarios", ", ".join(config.get("scenarios", []))),
        ("repetitions", str(config.get("repeat", "–"))),
        ("SLO", f"p99 ≤ {run.slo_ms:g} ms, errors < 1%"),
        ("common load (steady, spike)", f"{summary.get('rate_rps', '–')} req/s"),
        (
            "budget of each stack",
            "not measured (the deployment's own)"
            if (meta.get("backend") or {}).get("backend") == "remote"
            else f"{budget.get('cpus', '–')} CPU, {_gib(budget.get('memory_bytes'))}",
        ),
        ("CPUs", f"under test {cpus.get('sut', '–')}, load generator {cpus.get('generator', '–')}"),
        (
            "machine",
            f"{environment.get('cpu_model', '–')}, {environment.get('cpu_count', '–')} CPUs",
        ),
        ("software", f"Python {environment.get('python', '–')}, archbench {commit}"),
    ]
    blocks: list[Any] = []
    if summary.get("status") != "complete":
        missing = [k for k in planned(run) if k not in (summary.get("runs") or {})]
        text = (
            f"This run is {summary.get('status', 'of unknown status')} "
            f"({summary.get('reason') or 'no reason recorded'}): it shows only what was gathered."
        )
        if missing:
            text += f" Not run: {', '.join(missing)}."
        blocks.append(Paragraph(text, warning=True))
    blocks.append(Table(("fact", "value"), tuple(cells(k, v) for k, v in facts)))
    return Section("This run", "run", tuple(blocks))


def verdict_section(run: StoredRun) -> Section:
    rows = tuple(
        (
            *cells(v.claim, v.experiment, "\n".join(v.evidence)),
            Cell(v.verdict, v.flags, css=v.verdict.split(" in ")[0].replace(" ", "-")),
        )
        for v in verdict.judge(run)
    )
    text = (
        "Each claim the articles make, the experiment in this run that tests it, the measured "
        "evidence and the verdict, computed by code from this run's data "
        "(bench/analyse/verdict.py): "
        "supported, not supported, mixed (true in some tests, false in others), or not measured "
        f"in this run. Figures differ only beyond {verdict.MARGIN:.0%}; an endpoint kept serving "
        f"when at least {verdict.KEPT_SERVING:.0%} of its requests during a fault succeeded."
    )
    table = Table(("claim", "experiment", "evidence", "verdict"), rows)
    return Section("Verdict on the claims", "verdict", (Paragraph(text), table))


def answer_section(run: StoredRun) -> Section:
    """The bottom line, before any table: a few sentences computed from the run's data."""
    line = bottomline.bottom_line(run)
    return Section("The answer first", "answer", tuple(Paragraph(s) for s in line.sentences))
