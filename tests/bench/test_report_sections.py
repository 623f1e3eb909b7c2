"""The report's sections for the other scenarios (faults, cost, scaling, sweep, plan), rendered
from constructed data shaped like the run-folder contract: their numbers, flags where the numbers
appear, figures that draw, and "not run" when a scenario is absent."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bench.report.document import draw_all, to_html, to_markdown
from bench.report.page import document
from tests.bench import constructed as c
from tests.bench.markdown import md_rows, md_section, md_tables

SECTIONS = ("Failure isolation", "Cost", "Scaling", "Model and batch sweep", "Capacity plan")


def full() -> dict[str, Any]:
    """A summary with every contract key: micro isolates a crash in score (with and without
    resilience), the monolith does not, and one micro repetition is invalid."""
    faults = [
        c.fault("monolith", "crash", "score", spared=0.0),
        c.fault("micro", "crash", "score", spared=1.0),
        c.fault("micro", "crash", "score", spared=0.2, rep=1, valid=False),
        c.fault("micro", "hang", "score", spared=0.4),
        c.fault("micro", "hang", "score", spared=1.0, resilience=True),
        c.fault("micro", "leak", "features", spared=1.0),
    ]
    return c.summary(
        faults=faults,
        cost=c.cost({"monolith": 0.02, "micro": 0.05}, {"monolith": 1.2, "micro": 2.5}),
        scaling=c.scaling((180.0, 300.0), (400.0, 420.0)),
        sweep=c.SWEEP,
        plan=c.PLAN,
    )


@pytest.fixture(scope="module")
def markdown() -> str:
    return to_markdown(document(c.run(full())))


def test_the_fault_matrix_shows_each_endpoint_and_flags_invalid_runs(markdown: str) -> None:
    section = md_section(markdown, "Failure isolation")
    matrix = md_tables(markdown)["Failure isolation"]
    assert matrix[0] == ["fault", "stage", "monolith", "micro", "micro + resilience"]
    crash = next(r for r in matrix if r[:2] == ["crash", "score"])
    assert crash[2] == "predict: 0%<br>predict-batch: 0%<br>validate ↷: 0%"
    # the median over both micro repetitions (1.0 and 0.2), and the invalid one flagged right here
    assert crash[3].startswith("predict: 0%<br>predict-batch: 0%<br>validate ↷: 60%")
    assert "⚠ invalid: rep 1: constructed to be invalid" in crash[3]
    assert crash[4] == "not run"
    hang = next(r for r in matrix if r[:2] == ["hang", "score"])
    assert hang[3].endswith("validate ↷: 40%") and hang[4].endswith("validate ↷: 100%")
    recovery = [r for r in md_rows(section) if r[:3] == ["micro", "leak", "features"]]
    assert recovery == [["micro", "leak", "features", "1.3 s", "1 of 1", "0.2 s", "1.5 s", "67%"]]


def test_cost_scaling_sweep_and_plan_show_their_numbers(markdown: str) -> None:
    headline = md_tables(markdown)["Headline"]
    assert [r[-1] for r in headline[1:]] == ["0.020 (0.018–0.022)", "0.050 (0.045–0.055)"]
    cost = md_tables(markdown)["Cost"]
    assert cost[1] == ["monolith", "60", "0.5", "1.20", "2500", "300", "0.020 (0.018–0.022)"]
    assert "0.04 USD per vCPU-hour and 0.005 USD per GB-hour (constructed" in markdown
    scaling = md_tables(markdown)["Scaling"]
    assert ["micro", "score", "2", "300", "38.0", "416"] in scaling
    sweep = md_tables(markdown)["Model and batch sweep"]
    assert ["heavy", "64", "micro", "83.0", "640.00", "1"] in sweep
    plan = md_section(markdown, "Capacity plan")
    assert ["4", "micro", "720", "0.125"] in md_rows(plan) and "error was 8.0%" in plan


def test_invalid_runs_are_flagged_in_the_cells_of_their_numbers() -> None:
    archs = c.default_archs()
    archs["micro"]["steady"]["invalid"] = 1
    headline = md_tables(to_markdown(document(c.run(c.summary(archs)))))["Headline"]
    flag = "⚠ invalid: rep0: constructed to be invalid"
    monolith, micro = headline[1], headline[2]
    assert flag in micro[2] and flag in micro[3] and flag not in micro[1]  # steady, not capacity
    assert not any("⚠" in cell for cell in monolith)


def test_absent_scenarios_say_they_were_not_run() -> None:
    markdown = to_markdown(document(c.run(c.summary())))
    for name in SECTIONS:
        assert "was not run in this run" in md_section(markdown, name), name
    assert md_tables(markdown)["Headline"][1][-1] == "not measured in this run"


def test_every_figure_draws_and_the_html_carries_it() -> None:
    content = document(c.run(full()))
    names = {f.name for f in content.figures}
    assert {"fault-matrix", "fault-crash-score", "fault-hang-score", "fault-leak-features",
            "cost-idle", "scaling", "sweep", "plan"} <= names  # fmt: skip
    pngs = draw_all(content.figures)
    for name, png in pngs.items():
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        assert pixels.std() > 10, name  # something is drawn
    html = to_html(content, pngs)
    assert html.count('<img src="data:image/png;base64,') == len(pngs)
    flag = "<summary>⚠ invalid: rep 1:</summary> constructed to be invalid</details>"
    assert flag in html


def test_the_run_names_its_model_or_says_it_was_not_recorded() -> None:
    model = {
        "name": "penguins-gbc",
        "version": "1.0.0",
        "task": "classifier",
        "sha256": "0123456789abcdef" * 4,
        "directory": "/models/demo",
    }
    for given, expected in (
        (model, "penguins-gbc 1.0.0 (classifier), sha256 0123456789ab, from /models/demo"),
        (None, "not recorded"),
    ):
        facts = md_tables(to_markdown(document(c.run(c.summary(), model=given))))["This run"]
        assert ["model", expected] in facts


def test_a_docker_run_names_its_budget_mode_and_what_a_partition_costs() -> None:
    expected = {
        "partition": "Docker Engine 20.10.24, budget mode partition (each container its own CPU "
        "cap, its healthchecks' CPU included; a container past its quota waits for the next "
        "100-ms period)",
        "shared": "Docker Engine 20.10.24, budget mode shared (the containers under one CPU cap)",
    }
    for mode, fact in expected.items():
        run = c.run(c.summary())
        run.meta["backend"] = {"backend": "docker", "engine": "20.10.24", "mode": mode}
        facts = md_tables(to_markdown(document(run)))["This run"]
        assert ["where the stacks ran", fact] in facts
