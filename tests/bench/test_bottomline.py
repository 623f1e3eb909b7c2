"""The bottom line on constructed runs: it flips between monolith and microservices with the data,
names what would flip it from the sweep and the plan (or the command that measures it), states
the run's caveats, and opens both the report and the console's end of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.analyse import bottomline, verdict
from bench.analyse.bottomline import MICRO, MONOLITH, bottom_line
from bench.report.console import render_bottom_line
from bench.report.document import Paragraph
from bench.report.page import document
from bench.store.stored import StoredRun
from tests.bench import constructed as c


def ratio(median: float, low: float, high: float) -> dict[str, Any]:
    return {
        "micro/monolith": {"capacity_rps": {"median": median, "low": low, "high": high, "n": 3}}
    }


def monolith_wins() -> dict[str, Any]:
    """The demo's shape: the monolith serves more, faster and cheaper."""
    return c.summary(ratios=ratio(0.45, 0.40, 0.52), cost=c.cost({"monolith": 0.01, "micro": 0.02}))


def micro_wins() -> dict[str, Any]:
    """The same figures with the architectures' roles swapped."""
    swapped = c.default_archs()
    archs = {"monolith": swapped["micro"], "micro": swapped["monolith"]}
    return c.summary(
        archs, ratios=ratio(2.2, 1.9, 2.5), cost=c.cost({"monolith": 0.02, "micro": 0.01})
    )


def test_it_favours_the_monolith_when_the_monolith_wins() -> None:
    line = bottom_line(c.run(monolith_wins()))
    assert line.favoured == MONOLITH
    assert line.answer.startswith("This run favours the monolith, for this model at the common")
    assert "of 50 req/s" in line.answer
    assert "micro/monolith 0.45 [0.40–0.52] over 3 paired searches" in line.answer
    assert "p99 at the common load 10.0 ms (monolith) against 22.0 ms (micro)" in line.answer
    assert "0.0100 USD (monolith) against 0.0200 USD (micro)" in line.answer
    assert "where its first half points: to the monolith" in line.article


def test_it_flips_to_the_microservices_when_they_win() -> None:
    line = bottom_line(c.run(micro_wins()))
    assert line.favoured == MICRO
    assert line.answer.startswith("This run favours the microservices")
    assert "micro/monolith 2.20 [1.90–2.50]" in line.answer
    assert "points to the microservices" in line.article


def test_an_interval_across_one_and_figures_within_the_noise_favour_neither() -> None:
    archs = c.default_archs()
    archs["micro"]["steady"].update(p99=10.5, cpu=2.6)  # within 10% of the monolith's
    data = c.summary(archs, ratios=ratio(0.9, 0.7, 1.2))
    line = bottom_line(c.run(data))
    assert line.favoured is None
    assert "favours neither architecture beyond its noise" in line.answer
    assert "an interval that includes 1" in line.answer
    assert "does not decide" in line.article


def test_the_claims_are_grouped_by_their_verdicts() -> None:
    data = monolith_wins()
    data["scaling"] = c.scaling((180, 185), (400, 420))  # scaling one service added nothing
    line = bottom_line(c.run(data))
    assert "Microservices scale independently" in line.failed
    assert "Calls between services add latency" in line.held
    assert "Each service can use its own framework" in line.unmeasured
    assert line.claims.startswith(f"Of {len(verdict.CLAIMS)} claims, those that held: ")
    assert "; those that did not hold: Microservices scale independently" in line.claims


def test_what_would_flip_it_names_the_command_when_the_run_lacks_the_data() -> None:
    line = bottom_line(c.run(monolith_wins()))
    assert bottomline.SWEEP_COMMAND in line.weight
    assert bottomline.PLAN_COMMAND in line.rate
    assert "was not measured in this run" in line.weight


def sweep(shares: dict[tuple[str, int], float]) -> list[dict[str, Any]]:
    return [
        {"model": m, "batch": b, "arch": "micro", "arch_share_of_latency": share,
         "stage_compute_ms": {"light": 0.5, "heavy": 16.0}[m] * b}
        for (m, b), share in shares.items()
    ]  # fmt: skip


def test_the_model_weight_that_flips_it_comes_from_the_sweep() -> None:
    data = monolith_wins()
    data["sweep"] = sweep({("heavy", 8): 0.03, ("light", 1): 0.6, ("heavy", 1): 0.08})
    weight = bottom_line(c.run(data)).weight
    assert "falls under 10% from the heavy model with batches of 1" in weight
    assert "16.0 ms of stage compute per request" in weight
    data["sweep"] = sweep({("light", 1): 0.6, ("light", 8): 0.3})
    weight = bottom_line(c.run(data)).weight
    assert weight.startswith("no swept model brought the architecture's share of latency under")
    assert "the heaviest point was the light model with batches of 8" in weight


def by_rate(cheaper: dict[int, str]) -> dict[str, Any]:
    return {"by_rate": [{"rate_rps": r, "cheaper": a, "saving": 0.2} for r, a in cheaper.items()]}


def test_the_rate_that_flips_it_comes_from_the_plan() -> None:
    data = monolith_wins()
    data["plan"] = by_rate({100: "monolith", 1000: "monolith", 3000: "micro", 10000: "micro"})
    rate = bottom_line(c.run(data)).rate
    assert "prices the microservices cheaper from 3000 req/s (by 20%" in rate
    assert "taken equal to the first (no scaling part ran)" in rate
    data["plan"] = by_rate({100: "monolith", 30000: "monolith"})
    data["scaling"] = c.scaling((180, 300), (400, 420))
    rate = bottom_line(c.run(data)).rate
    assert "prices the monolith cheaper at every planned rate from 100 to 30000 req/s" in rate
    assert "scaling one stage never pays for its extra memory there" in rate
    assert "as the scaling part measured it" in rate
    data["plan"] = by_rate({10: "micro", 100: "monolith"})
    assert "prices the monolith cheaper from 100 req/s" in bottom_line(c.run(data)).rate
    data["plan"] = by_rate({10: "micro", 100: "micro"})
    assert "scaling one stage always pays" in bottom_line(c.run(data)).rate


def test_the_caveats_name_the_machine_the_network_and_the_budget_mode() -> None:
    meta = {
        "config": {"archs": ["monolith", "micro"], "slo_ms": 100.0},
        "environment": {"cpu_model": "Xeon", "cpu_count": 2},
        "backend": {"backend": "docker", "engine": "20.10", "mode": "shared"},
    }
    caveats = bottom_line(StoredRun(Path("/x"), meta, monolith_wins())).caveats
    assert caveats[0] == "one machine (Xeon, 2 CPUs), the load generator on the same host"
    assert "bridge network" in caveats[1] and "budget mode shared" in caveats[1]
    local = bottom_line(c.run(monolith_wins())).caveats
    assert "hops over loopback, never a real network" in local[1]
    data = monolith_wins()
    data["runs"]["steady/micro/rep0"]["validity"]["valid"] = False
    data.update(status="incomplete", reason="interrupted")
    assert bottom_line(c.run(data)).caveats[2:] == (
        "1 of its load runs were invalid (flagged ⚠ in the tables)",
        "the run is incomplete: interrupted",
    )


def test_team_size_is_said_to_be_out_of_reach() -> None:
    article = bottom_line(c.run(micro_wins())).article
    assert bottomline.ARTICLE in article
    assert "team size and organisation are not something a benchmark measures" in article


@pytest.mark.parametrize("data", [monolith_wins(), micro_wins()])
def test_the_report_opens_with_it_and_the_console_prints_the_same(data: dict[str, Any]) -> None:
    run = c.run(data)
    first = document(run).sections[0]
    assert first.title == "The answer first"
    said = bottom_line(run).sentences
    assert tuple(b.text for b in first.blocks if isinstance(b, Paragraph)) == said
    console = Console(width=10_000, record=True)
    render_bottom_line(bottom_line(run), console)
    printed = console.export_text().splitlines()
    assert printed[1:] == list(said)
