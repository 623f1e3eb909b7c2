"""`archbench` subcommands: train, up, bench, report, compare, plan, ui, microbench, perf,
loadperf. Mistakes: one line, exit 1."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.paths import DEFAULT_MODEL_DIR


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; one line that says what is valid is enough.
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(1)


def _train(args: argparse.Namespace) -> None:
    from pipeline.paths import variant_dir
    from pipeline.train import DEFAULT_VARIANT, train

    directory = args.model_dir or (variant_dir(args.variant) if args.variant else DEFAULT_MODEL_DIR)
    metadata = train(directory, args.variant or DEFAULT_VARIANT)
    print(
        f"model bundle written to {directory}: {metadata['name']} {metadata['version']}, "
        f"test metrics {metadata['metrics']}"
    )


def _up(args: argparse.Namespace) -> None:
    from stack.runner import run_until_interrupted

    run_until_interrupted(args.arch, base_port=args.port)


def _microbench(args: argparse.Namespace) -> None:
    from bench.selfcheck.microbench import main

    main(args.model_dir, seconds=args.seconds)


def _perf(args: argparse.Namespace) -> None:
    import shutil

    from bench.selfcheck.perf import PerfConfig, main

    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise UserError(f"`{tool}` is not installed; archbench perf needs it (apt-get install)")
    config = PerfConfig(
        model_dir=args.model_dir,
        requests=args.requests,
        rounds=args.rounds,
        warmup=args.warmup,
        wrk_seconds=args.wrk_seconds,
        wrk_connections=args.connections,
        base_port=args.port,
    )
    main(config)


def _loadperf(args: argparse.Namespace) -> None:
    import shutil

    from bench.selfcheck.loadperf import LoadPerfConfig, LoadPerfError, main

    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise UserError(f"`{tool}` is not installed; archbench loadperf needs it")
    config = LoadPerfConfig(
        rate=args.rate, cost_s=args.seconds, repeats=args.repeat, base_port=args.port
    )
    try:
        main(config)
    except LoadPerfError as exc:
        raise UserError(str(exc)) from None


def _numbers(flag: str, text: str | None) -> tuple[int, ...] | None:
    """A comma-separated list of whole numbers from a flag, or one line saying what is valid."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"{flag} takes whole numbers separated by commas, not {text!r}") from None


def _bench(args: argparse.Namespace) -> None:
    import os
    from dataclasses import replace

    from bench.analyse import cost
    from bench.config import QUICK, BenchConfig, ConfigError
    from bench.report import cost_console as cost_table
    from bench.report.console import render
    from bench.run.harness import Bench
    from bench.run.progress import Display
    from stack.budget import generator_cpus
    from stack.runner import StackError

    config = QUICK if args.quick else BenchConfig()
    if args.duration is not None:
        config = config.with_duration(args.duration)
    chosen = {
        "archs": tuple(args.arch.split(",")) if args.arch else None,
        "scenarios": tuple(args.scenario.split(",")) if args.scenario else None,
        "repeat": args.repeat,
        "slo_ms": args.slo_ms,
        "rate": args.rate,
        "label": args.label,
        "base_port": args.port,
        "invalid_share": args.invalid_share,
        "seed": args.seed,
        "prices": str(cost.prices_path(args.prices)),
        "scaling_replicas": _numbers("--replicas", args.replicas),
        "sweep_models": tuple(args.models.split(",")) if args.models else None,
        "sweep_batches": _numbers("--batches", args.batches),
    }
    faulted: dict[str, Any] = {
        "kinds": _listed(args.fault),
        "stages": _listed(args.fault_stage),
        "resilience": _resilience(args.resilience),
        "fault_s": args.fault_s,
        "tail_s": args.fault_tail_s,
        "slow_ms": args.fault_slow_ms,
        "error_share": args.fault_error_share,
    }
    chosen["profile"] = args.profile
    chosen["fault"] = replace(config.fault, **{k: v for k, v in faulted.items() if v is not None})
    try:
        config = replace(config, **{k: v for k, v in chosen.items() if v is not None}).check()
        cost.load_prices(Path(config.prices))
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    from stack.runner import port_free
    from stack.topology import services

    for arch in config.archs:
        # The scaling part's largest stack uses the most ports.
        most = max(config.scaling_replicas) if config.runs("scaling") else 1
        scale = {"monolith" if arch == "monolith" else config.scaling_stage: most}
        for service in services(arch, config.base_port, replicas=scale):
            for port in (service.port, service.admin_port):
                if not port_free(port):
                    raise UserError(
                        f"port {port} for service {service.name!r} ({arch}) is already in "
                        "use; choose another base port with --port"
                    )
    # The harness samples resources: keep it off the CPU of the system under test.
    os.sched_setaffinity(0, generator_cpus(config.budget))
    display = Display()
    bench = Bench(config, display, args.results_dir)
    try:
        path = bench.run()
    except StackError:
        _report_in_subprocess(bench.folder.path)  # what was gathered still gets its report
        raise
    finally:
        display.stop()
    summary = bench.summary
    render(summary)
    cost_table.render(summary)
    print(f"results: {path}")
    _report_in_subprocess(path)
    if summary["status"] != "complete":
        print(
            f"run {summary['status']} ({summary['reason']}); what was gathered is kept in {path}",
            file=sys.stderr,
        )
        sys.exit(130)


# A report takes seconds; this bounds a stuck one so that `bench` always ends.
REPORT_TIMEOUT_S = 300.0


def _report_in_subprocess(run_dir: Path) -> None:
    """Write the run's report in a process of its own: matplotlib stays out of the harness."""
    command = [sys.executable, "-m", "archbench", "report", str(run_dir)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print(f"report: none, it took over {REPORT_TIMEOUT_S:.0f} s", file=sys.stderr)
        return
    if done.returncode == 0:
        print(done.stdout.strip())
    else:
        print(f"report failed: {done.stderr.strip()}", file=sys.stderr)


def _report(args: argparse.Namespace) -> None:
    from bench.report import build
    from bench.store.folder import ResultsError

    try:
        path = build(args.run_dir, args.out)
    except ResultsError as exc:
        raise UserError(str(exc)) from None
    print(f"report: {path}")


def _compare(args: argparse.Namespace) -> None:
    from bench.analyse.compare import CompareError, main
    from bench.store.folder import ResultsError

    try:
        code = main(args.run_a, args.run_b, args.fail_on)
    except (CompareError, ResultsError) as exc:
        raise UserError(str(exc)) from None
    sys.exit(code)


def _listed(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",")) if value else None


def _resilience(value: str | None) -> tuple[bool, ...] | None:
    modes = {"off": False, "on": True}
    names = _listed(value)
    if names is None:
        return None
    for name in names:
        if name not in modes:
            raise UserError(f"unknown resilience mode {name!r}; choose from: off, on")
    return tuple(modes[n] for n in names)


def _plan(args: argparse.Namespace) -> None:
    from bench.analyse import cost, demand, plan
    from bench.config import ConfigError
    from bench.report import cost_console as cost_table
    from pipeline.paths import RESULTS_ROOT

    if args.rate <= 0:
        raise UserError(f"--rate must be greater than 0, not {args.rate:g}")
    if args.slo_ms <= 0:
        raise UserError(f"--slo-ms must be greater than 0, not {args.slo_ms:g}")
    try:
        prices = cost.load_prices(cost.prices_path(args.prices))
        summary, measured_slo_ms = plan.read_run(args.run_dir or RESULTS_ROOT / "latest")
    except (ConfigError, plan.PlanError) as exc:
        raise UserError(str(exc)) from None
    found = demand.models_of(summary)
    if not found:
        raise UserError("the run has no capacity or steady run to model; run `archbench bench`")
    planned = plan.from_summary(summary, args.slo_ms, prices, measured_slo_ms)
    assert planned is not None
    choices = {a: plan.cheapest(m, args.rate, args.slo_ms, prices) for a, (m, _) in found.items()}
    cheaper, saving = plan.compare(choices)
    bases = {a: m.base_p99_ms for a, (m, _) in found.items()}
    cost_table.answer(args.rate, args.slo_ms, choices, bases, cheaper, saving, planned)


def _ui(args: argparse.Namespace) -> None:
    from bench.run.ui import main

    main(args.arch, args.port, args.web_port)


def build_parser() -> argparse.ArgumentParser:
    from bench.analyse.headline import BY_NAME
    from pipeline.train import VARIANTS
    from stack.topology import ARCHITECTURES

    parser = _Parser(prog="archbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="build the demo model bundle (or a variant's)")
    train.add_argument("--model-dir", type=Path, help="default: models/demo or models/<variant>")
    train.add_argument("--variant", choices=VARIANTS, help="estimator weight (default: medium)")
    train.set_defaults(func=_train)

    up = sub.add_parser("up", help="start a stack as local processes until Ctrl-C")
    up.add_argument("arch", choices=ARCHITECTURES)
    up.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    up.set_defaults(func=_up)

    micro = sub.add_parser("microbench", help="in-process cost of each stage")
    micro.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    micro.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    micro.set_defaults(func=_microbench)

    perf = sub.add_parser(
        "perf", help="per-hop tax of the microservices; monolith peak vs in-process"
    )
    perf.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    perf.add_argument("--requests", type=int, default=3000, help="sequential requests per stack")
    perf.add_argument("--rounds", type=int, default=6, help="turns the stacks take at low load")
    perf.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    perf.add_argument("--wrk-seconds", type=int, default=10, help="duration of each wrk run")
    perf.add_argument("--connections", type=int, default=8, help="wrk connections (closed loop)")
    perf.add_argument("--port", type=int, default=8800, help="monolith port; micro uses port+10..")
    perf.set_defaults(func=_perf)
    loadperf = sub.add_parser(
        "loadperf", help="the load generator's CPU per request, capture cost, and wrk parity"
    )
    loadperf.add_argument("--rate", type=float, default=2500.0, help="cost runs' req/s")
    loadperf.add_argument("--seconds", type=float, default=3.0, help="measured s per cost run")
    loadperf.add_argument("--repeat", type=int, default=4, help="cost runs of each kind")
    loadperf.add_argument("--port", type=int, default=8900, help="monolith port; micro: port+10..")
    loadperf.set_defaults(func=_loadperf)
    bench = sub.add_parser("bench", help="measure both architectures under load")
    bench.add_argument("--arch", help="comma-separated: monolith, micro, micro-flask")
    bench.add_argument(
        "--scenario",
        help="comma-separated: capacity, steady, spike, ramp, faults, scaling, sweep",
    )
    bench.add_argument(
        "--profile",
        help="default: crash and slow of score, resilience off; full: every fault, stage and "
        "resilience mode, plus the scaling and sweep parts",
    )
    bench.add_argument("--fault", help="comma-separated: crash, hang, slow, errors, leak")
    bench.add_argument("--fault-stage", help="comma-separated: ingest, validate, features, score")
    bench.add_argument(
        "--resilience", help="gateway patterns in fault runs, comma-separated: off, on"
    )
    bench.add_argument("--fault-s", type=float, help="how long hang, slow and errors last")
    bench.add_argument("--fault-tail-s", type=float, help="measured seconds after a fault")
    bench.add_argument("--fault-slow-ms", type=float, help="what slow adds to each stage call")
    bench.add_argument("--fault-error-share", type=float, help="share of calls errors fails")
    bench.add_argument("--duration", type=float, help="measured seconds per scenario")
    bench.add_argument("--slo-ms", type=float, help="p99 latency objective (default 100)")
    bench.add_argument("--repeat", type=int, help="repetitions of each scenario (default 3)")
    bench.add_argument("--rate", type=float, help="steady/spike rate; default half the capacity")
    bench.add_argument("--invalid-share", type=float, help="share of invalid requests")
    bench.add_argument("--seed", type=int, help="payload and arrival seed")
    bench.add_argument("--label", help="suffix of the result folder's name")
    bench.add_argument("--port", type=int, help="entry port; services use the next four")
    bench.add_argument("--quick", action="store_true", help="the short smoke-check preset")
    bench.add_argument("--prices", help="price file (default: ARCHBENCH_PRICES, bench/prices.toml)")
    bench.add_argument("--replicas", help="scaling: replica counts, e.g. 1,2,3")
    bench.add_argument("--models", help="sweep: model variants, e.g. light,medium,heavy")
    bench.add_argument("--batches", help="sweep: batch sizes, e.g. 1,8,32")
    bench.add_argument("--results-dir", type=Path, default=None, help="default: results/")
    bench.set_defaults(func=_bench)

    report = sub.add_parser("report", help="write a run's report.html, report.md and figures")
    report.add_argument("run_dir", type=Path, help="a run folder, e.g. results/latest")
    report.add_argument("--out", type=Path, help="write there instead of into the run folder")
    report.set_defaults(func=_report)

    compare = sub.add_parser("compare", help="headline figures of two runs; guard regressions")
    compare.add_argument("run_a", type=Path, help="the run before")
    compare.add_argument("run_b", type=Path, help="the run after")
    compare.add_argument(
        "--fail-on",
        help="exit 2 past a threshold, e.g. p99:+10%%,capacity:-5%% (figures: "
        f"{', '.join(BY_NAME)})",
    )
    compare.set_defaults(func=_compare)

    planner = sub.add_parser("plan", help="cores, replicas and cost per architecture for a rate")
    planner.add_argument("run_dir", nargs="?", type=Path, help="a run folder (results/latest)")
    planner.add_argument("--rate", type=float, required=True, help="requests per second")
    planner.add_argument("--slo-ms", type=float, default=100.0, help="p99 objective (100)")
    planner.add_argument(
        "--prices", help="price file (default: ARCHBENCH_PRICES, bench/prices.toml)"
    )
    planner.set_defaults(func=_plan)

    ui = sub.add_parser("ui", help="a stack plus Locust's web UI on 127.0.0.1:8089")
    ui.add_argument("--arch", choices=ARCHITECTURES, default="monolith")
    ui.add_argument("--port", type=int, default=8000, help="entry port; services use the next")
    ui.add_argument("--web-port", type=int, default=8089)
    ui.set_defaults(func=_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from pipeline.errors import BundleError
    from stack.runner import StackError, log_tail

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, BundleError) as exc:
        sys.stderr.write(f"archbench: {exc}\n")
        sys.exit(1)
    except StackError as exc:
        sys.stderr.write(f"archbench: {exc}\n")
        if exc.log is not None:
            sys.stderr.write(f"--- last lines of {exc.log} ---\n{log_tail(exc.log)}\n")
        sys.exit(1)
