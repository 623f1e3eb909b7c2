"""The report's sections on what each architecture costs and how it grows, from the run-folder
contract's `cost`, `scaling`, `sweep` and `plan` keys; each says when its scenario was not run."""

from __future__ import annotations

import json

from bench.analyse import headline
from bench.report.console import number
from bench.report.document import Cell, Figure, Paragraph, Section, Table, cells
from bench.report.figures import cost as draw
from bench.store.stored import StoredRun

MiB = 2**20


def _not_run(title: str, anchor: str, scenario: str) -> Section:
    return Section(
        title,
        anchor,
        (Paragraph(f"Not measured: the {scenario} scenario was not run in this run."),),
    )


def cost_section(run: StoredRun) -> Section:
    title, anchor = "Cost", "cost"
    cost = run.summary.get("cost") or {}
    archs = [a for a in run.archs if a in cost] + [
        a for a in cost if a != "prices" and a not in run.archs
    ]
    if not archs:
        return _not_run(title, anchor, "cost")
    usd = headline.BY_NAME["cost"]
    rows = []
    for arch in archs:
        figures = cost[arch]
        idle = figures.get("idle") or {}
        price = headline.value(run, arch, usd)
        rows.append(
            (
                *cells(
                    arch,
                    number(idle.get("total_rss_bytes"), 0, 1 / MiB),
                    number(idle.get("total_cpu_percent"), 1),
                    number((figures.get("ready_s") or {}).get("total_s"), 2),
                    number(figures.get("cpu_s_per_million"), 0),
                    number(figures.get("gb_s_per_million"), 0),
                ),
                Cell(headline.format_value(usd, price), price.flags),
            )
        )
    columns = ("architecture", "idle memory MiB", "idle CPU %", "cold start to ready s",
               "CPU-s per million", "GB-s per million", "USD per million")  # fmt: skip
    service_rows = tuple(
        cells(
            arch,
            name,
            number(figures.get("rss_bytes"), 0, 1 / MiB),
            number(figures.get("cpu_percent"), 1),
            number(((cost[arch].get("ready_s") or {}).get("services") or {}).get(name), 2),
        )
        for arch in archs
        for name, figures in sorted(((cost[arch].get("idle") or {}).get("services") or {}).items())
    )
    prices = cost.get("prices") or {}
    text = (
        f"Prices: {prices.get('vcpu_hour_usd', '–')} USD per vCPU-hour and "
        f"{prices.get('gb_hour_usd', '–')} USD per GB-hour ({prices.get('source', 'no source')}; "
        f"edit {prices.get('file', 'the price table')} to use yours). CPU and memory per million "
        "predictions come from the steady scenario."
    )
    return Section(
        title,
        anchor,
        (
            Paragraph(text),
            Table(columns, tuple(rows)),
            Figure(
                "cost-idle",
                "Idle memory by service, and time from a cold start to ready.",
                lambda: draw.idle({a: cost[a] for a in archs}),
            ),
            Table(
                ("architecture", "service", "idle RSS MiB", "idle CPU %", "ready s"), service_rows
            ),
        ),
    )


def scaling_section(run: StoredRun) -> Section:
    title, anchor = "Scaling", "scaling"
    scaling = {a: p for a, p in (run.summary.get("scaling") or {}).items() if p}
    if not scaling:
        return _not_run(title, anchor, "scaling")
    rows = tuple(
        cells(
            arch,
            p["scaled"],
            str(p["replicas"]),
            number(p.get("capacity_rps"), 0),
            number(p.get("p99_ms")),
            number(p.get("memory_bytes"), 0, 1 / MiB),
        )  # fmt: skip
        for arch, points in scaling.items()
        for p in sorted(points, key=lambda p: p["replicas"])
    )
    columns = ("architecture", "scaled", "replicas", "capacity req/s", "p99 ms", "memory MiB")
    figure = Figure(
        "scaling",
        "Capacity at the SLO and memory against replicas: the microservices scale one service, "
        "the monolith its whole process.",
        lambda: draw.scaling(scaling),
    )
    return Section(title, anchor, (figure, Table(columns, rows)))


def sweep_section(run: StoredRun) -> Section:
    title, anchor = "Model and batch sweep", "sweep"
    sweep = run.summary.get("sweep") or []
    if not sweep:
        return _not_run(title, anchor, "sweep")
    rows = tuple(
        cells(
            r["model"],
            str(r["batch"]),
            r["arch"],
            number(r.get("p50_ms")),
            number(r.get("cpu_ms_per_request"), 2),
            number(r.get("arch_share_of_latency"), 0, 100),
        )  # fmt: skip
        for r in sweep
    )
    columns = ("model", "records per request", "architecture", "p50 ms", "CPU-ms per request",
               "architecture's share of latency %")  # fmt: skip
    figure = Figure(
        "sweep",
        "p50 and the architecture's share of latency against batch size, per model weight: "
        "the heavier the model and the larger the batch, the smaller the tax.",
        lambda: draw.sweep(sweep),
    )
    return Section(title, anchor, (figure, Table(columns, rows)))


def plan_section(run: StoredRun) -> Section:
    title, anchor = "Capacity plan", "plan"
    plan = run.summary.get("plan") or {}
    if not plan.get("points"):
        return _not_run(title, anchor, "capacity-plan")
    points = plan["points"]
    rows = tuple(
        cells(
            str(p["cores"]),
            p["arch"],
            number(p.get("max_rps"), 0),
            number(p.get("usd_per_million"), 3),
        )
        for p in sorted(points, key=lambda p: (p["arch"], p["cores"]))
    )
    error = plan.get("validation_error")
    text = (
        "The plan predicts capacity from the per-stage demand measured in this run: "
        f"{json.dumps(plan.get('model') or {}, sort_keys=True)}. Checked against a measured "
        f"point, its error was {number(error, 1, 100)}%."
    )
    figure = Figure(
        "plan", "Predicted capacity and price against cores.", lambda: draw.plan(points)
    )
    table = Table(("cores", "architecture", "predicted capacity req/s", "USD per million"), rows)
    return Section(title, anchor, (Paragraph(text), figure, table))
