"""The report's section on the hop tax over Docker's bridge network against loopback, from
summary.json["bridge"] (bench.analyse.bridge) and, when present, `archbench perf`'s floor."""

from __future__ import annotations

import statistics
from typing import Any

from bench.report.document import Cell, Paragraph, Section, Table, cells
from bench.store.stored import StoredRun

TITLE, ANCHOR = "Hop tax: Docker's bridge against loopback", "bridge"


def _ms(interval: list[float] | None, digits: int = 3) -> str:
    if not interval:
        return "–"
    median, low, high = interval
    return f"{median:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _perf_floor(run: StoredRun) -> tuple[Cell, ...] | None:
    """`archbench perf --into` this run: its floor hop on the host's loopback, medians."""
    samples = ((run.perf or {}).get("low") or {}).get("floor") or []
    if not samples:
        return None

    def median(name: str) -> str:
        values = [s[name] for s in samples if s.get(name) is not None]
        return f"{statistics.median(values):.3f}" if values else "–"

    return cells(
        "host loopback, no containers (archbench perf's floor, perf.json)",
        median("p50_ms"),
        median("p99_ms"),
        median("cpu_ms_per_request"),
    )


def bridge_section(run: StoredRun) -> Section:
    figures: dict[str, Any] | None = run.summary.get("bridge")
    if not figures:
        backend = (run.meta.get("backend") or {}).get("backend", "local")
        why = (
            "every hop of a local run is on loopback; a Docker run measures its bridge"
            if backend != "docker"
            else "this Docker run ended before its bridge measurement"
        )
        return Section(TITLE, ANCHOR, (Paragraph(f"Not measured: {why}."),))
    loopback, bridge = figures["loopback"], figures["bridge"]
    rows = [
        cells(
            "loopback: the floor server's own container",
            _ms(loopback["p50_ms"]),
            _ms(loopback["p99_ms"]),
            _ms(loopback["cpu_ms"]),
        ),
        cells(
            "bridge: from a second container",
            _ms(bridge["p50_ms"]),
            _ms(bridge["p99_ms"]),
            _ms(bridge["cpu_ms"]),
        ),
        cells(
            "bridge tax per hop (bridge − loopback)",
            _ms(figures["tax_p50_ms"]),
            _ms(figures["tax_p99_ms"]),
            _ms(figures["tax_cpu_ms"]),
        ),
    ]
    host = _perf_floor(run)
    if host is not None:
        rows.append(host)
    hops = figures["hops_per_prediction"]
    per_prediction = figures["per_prediction_p50_ms"]
    text = (
        "The microservices' hops on Docker cross its bridge network (veth, bridge, veth) where "
        "local hops stay on loopback. The bridge's own price is measured on the floor hop: the "
        "gateway's client (aiohttp, keep-alive) calling a minimal app served as every service is, "
        f"in a container of the image (Docker Engine {figures.get('engine') or '–'}), "
        f"{figures.get('requests')} sequential calls per side in each of {figures.get('rounds')} "
        f"rounds. The loopback figure comes from {figures['source']}; the bridge's from a second "
        "container on the same bridge network calling the server's address. Both on the "
        "system-under-test CPU, under one cgroup with the stack's budget. Each cell is the "
        "median over rounds (its 95% bootstrap interval); a tax is the median of per-round "
        "differences, both sides from the same round."
    )
    verdict = (
        f"One /predict makes {hops} hops: the bridge adds {_ms(per_prediction)} ms to it at p50, "
        f"against loopback; bridge/loopback p50 = {_ms(figures.get('ratio_p50'), 2)}."
    )
    table = Table(("path", "p50 ms", "p99 ms", "CPU ms per call"), tuple(rows))
    return Section(TITLE, ANCHOR, (Paragraph(text), table, Paragraph(verdict)))
