"""The report of a run: report.md, a self-contained report.html and figures/*.png, written into the
run folder from its meta.json, summary.json and raw records alone.

Runs in its own process (`archbench report RUN_DIR`): it imports matplotlib, which must never
share a process with Locust's gevent patching.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import bridge, cost, failure, overview, performance, update
from bench.report.document import Document, draw_all, to_html, to_markdown
from bench.store.folder import ResultsError
from bench.store.stored import StoredRun, open_run

REPORT_MD, REPORT_HTML = "report.md", "report.html"


def document(run: StoredRun) -> Document:
    """The report's content, in reading order."""
    sections = (
        overview.answer_section(run),
        overview.overview_section(run),
        performance.headline_section(run),
        overview.verdict_section(run),
        performance.load_section(run),
        performance.spectrum_section(run),
        performance.over_time_section(run),
        performance.time_section(run),
        bridge.bridge_section(run),
        performance.resources_section(run),
        failure.failure_section(run),
        update.update_section(run),
        cost.cost_section(run),
        cost.scaling_section(run),
        cost.sweep_section(run),
        cost.plan_section(run),
        performance.scenarios_section(run),
    )
    return Document(f"archbench report — {run.path.name}", sections)


def write(run: StoredRun, out_dir: Path) -> Path:
    """Render and write the report; refuses to overwrite one (reports are write-once too)."""
    content = document(run)
    markdown = to_markdown(content)
    pngs = draw_all(content.figures)
    html = to_html(content, pngs)
    files = {REPORT_MD: markdown.encode(), REPORT_HTML: html.encode()}
    files.update({figure.path: pngs[figure.name] for figure in content.figures})
    existing = [name for name in files if (out_dir / name).exists()]
    if existing:
        raise ResultsError(
            f"{out_dir} already has a report ({existing[0]}); reports are never overwritten: "
            "choose another folder with --out"
        )
    for name, data in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as f:
            f.write(data)
    return out_dir / REPORT_HTML


def build(run_dir: Path, out_dir: Path | None = None) -> Path:
    """Write the report of the run in `run_dir` (into it, unless `out_dir`); the HTML's path."""
    run = open_run(run_dir)
    out = out_dir or run.path
    out.mkdir(parents=True, exist_ok=True)
    return write(run, out)
