"""`archbench plan`: cores, replicas and cost per architecture for a request rate."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.errors import UserError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bench.analyse.planned import EMITS
    from bench.config import DEFAULT_SLO_MS

    parser = sub.add_parser("plan", help="cores, replicas and cost per architecture for a rate")
    parser.add_argument("run_dir", nargs="?", type=Path, help="a run folder (results/latest)")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument(
        "--slo-ms",
        type=float,
        default=DEFAULT_SLO_MS,
        help=f"p99 objective ({DEFAULT_SLO_MS:g})",
    )
    parser.add_argument(
        "--prices", help="price file (default: ARCHBENCH_PRICES, bench/prices.toml)"
    )
    parser.add_argument(
        "--emit",
        choices=EMITS,
        help="also write each architecture's deployment, sized as planned, into --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for --emit's files: <arch>.yaml or docker-compose.<arch>.yml; other files "
        "in it are left alone, and an existing file of those names is never replaced",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from bench.analyse import cost, demand, plan
    from bench.config import check_positive
    from bench.report import cost_console as cost_table
    from pipeline.paths import RESULTS_ROOT

    check_positive({"rate": args.rate, "slo-ms": args.slo_ms})
    if (args.emit is None) != (args.out is None):
        raise UserError("--emit and --out go together: --emit kubernetes|compose --out DIR")
    prices = cost.load_prices(cost.prices_path(args.prices))
    summary, measured_slo_ms = plan.read_run(args.run_dir or RESULTS_ROOT / "latest")
    found = demand.models_of(summary)
    if not found:
        raise UserError("the run has no capacity or steady run to model; run `archbench bench`")
    planned = plan.from_summary(summary, args.slo_ms, prices, measured_slo_ms)
    assert planned is not None
    choices = {a: plan.cheapest(m, args.rate, args.slo_ms, prices) for a, (m, _) in found.items()}
    cheaper, saving = plan.compare(choices)
    bases = {a: m.base_p99_ms for a, (m, _) in found.items()}
    cost_table.answer(args.rate, args.slo_ms, choices, bases, cheaper, saving, planned)
    if args.emit is None:
        return
    from bench.analyse.planned import emit_plan

    run_dir = (args.run_dir or RESULTS_ROOT / "latest").resolve()
    models = {a: m for a, (m, _) in found.items()}
    written, skipped = emit_plan(
        args.emit, args.out, models, choices, args.rate, args.slo_ms, run_dir, planned
    )
    for arch in skipped:
        print(f"{arch}: nothing written, no deployment serves this rate within the objective")
    for path in written:
        print(f"wrote {path}")
