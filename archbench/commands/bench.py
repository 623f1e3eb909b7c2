"""`archbench bench`: measure the architectures under load, then report the run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import UserError

# A report takes seconds; this bounds a stuck one so that `bench` always ends.
REPORT_TIMEOUT_S = 300.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bench.config import DEFAULT_SLO_MS

    parser = sub.add_parser("bench", help="measure both architectures under load")
    parser.add_argument("--arch", help="comma-separated: monolith, micro, micro-flask")
    parser.add_argument(
        "--model", type=Path, metavar="DIR", help="bundle to serve and load (default: models/demo)"
    )
    parser.add_argument(
        "--scenario",
        help="comma-separated: capacity, steady, spike, ramp, faults, update, scaling, sweep, "
        "framework",
    )
    parser.add_argument(
        "--profile",
        help="default: crash and slow of score, resilience off; full: every fault, stage and "
        "resilience mode, plus the scaling and sweep parts",
    )
    parser.add_argument("--fault", help="comma-separated: crash, hang, slow, errors, leak")
    parser.add_argument("--fault-stage", help="comma-separated: ingest, validate, features, score")
    parser.add_argument(
        "--resilience", help="gateway patterns in fault runs, comma-separated: off, on"
    )
    parser.add_argument("--fault-s", type=float, help="how long hang, slow and errors last")
    parser.add_argument("--fault-tail-s", type=float, help="measured seconds after a fault")
    parser.add_argument("--fault-slow-ms", type=float, help="what slow adds to each stage call")
    parser.add_argument("--fault-error-share", type=float, help="share of calls errors fails")
    parser.add_argument(
        "--update", help="how the update scenario deploys, comma-separated: restart, rolling"
    )
    parser.add_argument("--duration", type=float, help="measured seconds per scenario")
    parser.add_argument(
        "--slo-ms", type=float, help=f"p99 latency objective (default {DEFAULT_SLO_MS:g})"
    )
    parser.add_argument("--repeat", type=int, help="repetitions of each scenario (default 3)")
    parser.add_argument("--rate", type=float, help="steady/spike rate; default half the capacity")
    parser.add_argument("--invalid-share", type=float, help="share of invalid requests")
    parser.add_argument("--seed", type=int, help="payload and arrival seed")
    parser.add_argument("--label", help="suffix of the result folder's name")
    parser.add_argument("--port", type=int, help="entry port; services use the next four")
    parser.add_argument("--quick", action="store_true", help="the short smoke-check preset")
    parser.add_argument(
        "--prices", help="price file (default: ARCHBENCH_PRICES, bench/prices.toml)"
    )
    parser.add_argument("--replicas", help="scaling: replica counts, e.g. 1,2,3")
    parser.add_argument("--models", help="sweep: model variants, e.g. light,medium,heavy")
    parser.add_argument("--batches", help="sweep: batch sizes, e.g. 1,8,32")
    parser.add_argument("--results-dir", type=Path, default=None, help="default: results/")
    parser.add_argument(
        "--backend", help="where stacks run: local (processes, the default) or docker (compose)"
    )
    parser.add_argument(
        "--docker-budget",
        help="docker: partition (each container its own CPU cap, the default) or shared (one "
        "cap for the stack's containers, as local)",
    )
    parser.add_argument(
        "--secure-hops",
        action="store_true",
        default=None,
        help="mutual TLS between the gateway and the stages (the monolith has no hops)",
    )
    _register_targets(parser)
    parser.add_argument(
        "--workers",
        type=int,
        help="Locust workers sharing the load (capacity, steady, spike); default 0",
    )
    parser.add_argument(
        "--master-bind", metavar="HOST:PORT", help="--workers on other machines: wait for them"
    )
    parser.set_defaults(func=run)


def _register_targets(parser: argparse.ArgumentParser) -> None:
    """--target / --targets: measure deployments already running (stack.remote)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--target",
        action="append",
        metavar="ARCH=URL",
        help="a running deployment's entry point, e.g. micro=http://10.0.0.6:8000 (repeatable)",
    )
    where.add_argument(
        "--targets",
        type=Path,
        metavar="FILE",
        help="TOML or YAML: per architecture its url, each service's metrics (and admin) URL, "
        "admin_token",
    )


def run(args: argparse.Namespace) -> None:
    import os
    from dataclasses import replace

    from bench.analyse import cost
    from bench.analyse.bottomline import bottom_line
    from bench.config import QUICK, BenchConfig
    from bench.report import cost_console as cost_table
    from bench.report.console import render, render_bottom_line
    from bench.run import faults
    from bench.run.harness import Bench
    from bench.run.progress import Display
    from bench.store.stored import open_run
    from serving.settings import Settings
    from stack.budget import generator_cpus
    from stack.runner import StackError

    config = QUICK if args.quick else BenchConfig()
    if args.duration is not None:
        config = config.with_duration(args.duration)
    chosen = {
        "archs": tuple(args.arch.split(",")) if args.arch else None,
        # the flag, else ARCHBENCH_MODEL_DIR, else the demo bundle
        "model_dir": str(Settings.from_env(model_dir=args.model).model_dir),
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
        "backend": args.backend,
        "docker_budget": args.docker_budget,
        "secure_hops": args.secure_hops,
        "workers": args.workers,
        "master_bind": args.master_bind,
    }
    faulted: dict[str, Any] = {
        "kinds": _listed(args.fault),
        "stages": _listed(args.fault_stage),
        "resilience": _resilience(args.resilience),
        "fault_s": args.fault_s,
        "tail_s": args.fault_tail_s or (faults.DOCKER_TAIL_S if args.backend == "docker" else None),
        "slow_ms": args.fault_slow_ms,
        "error_share": args.fault_error_share,
    }
    chosen["profile"] = args.profile
    if args.update:
        chosen["update"] = replace(config.update, variants=tuple(_listed(args.update) or ()))
    chosen["fault"] = replace(config.fault, **{k: v for k, v in faulted.items() if v is not None})
    config = _remote(args, replace(config, **{k: v for k, v in chosen.items() if v is not None}))
    cost.load_prices(Path(config.prices))
    from stack.runner import port_free
    from stack.topology import services

    for arch in config.archs if config.backend != "remote" else ():
        # The scaling part's largest stack uses the most ports.
        most = max(config.scaling_points()[0]) if config.runs("scaling") else 1
        if config.runs("update"):  # the rolling update's replicas
            most = max(most, config.update.workers)
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
    hop_floor = None
    if config.backend == "docker":
        # The Docker SDK only where Docker is used; the harness is handed the self-check.
        from bench.selfcheck import bridge

        hop_floor = bridge.measure
    display = Display()
    bench = Bench(config, display, args.results_dir, hop_floor)
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
    render_bottom_line(bottom_line(open_run(path)))
    if summary["status"] != "complete":
        print(
            f"run {summary['status']} ({summary['reason']}); what was gathered is kept in {path}",
            file=sys.stderr,
        )
        sys.exit(130)


def _remote(args: argparse.Namespace, config: Any) -> Any:
    """The checked config; on --target/--targets: the remote backend, the targets' architectures
    unless --arch names some, only the faults a remote stack can take; the targets must answer."""
    from dataclasses import replace

    from stack import targets

    if args.target is None and args.targets is None:
        checked = config.check()
        if config.workers and args.scenario is None:
            print(config.workers_note(), file=sys.stderr)
        return checked
    found = targets.from_file(args.targets) if args.targets else targets.from_flags(args.target)
    if args.backend not in (None, "remote"):
        raise UserError(f"--target measures a running deployment, not on --backend {args.backend}")
    archs = config.archs if args.arch else tuple(t.arch for t in found)
    config = replace(config, backend="remote", targets=found, archs=archs)
    config, note = config.remote_defaults(args.scenario is not None, args.fault is not None)
    config = config.check()
    targets.check_reachable([t for t in found if t.arch in config.archs])
    if note:
        print(note, file=sys.stderr)
    return config


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


def _numbers(flag: str, text: str | None) -> tuple[int, ...] | None:
    """A comma-separated list of whole numbers from a flag, or one line saying what is valid."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"{flag} takes whole numbers separated by commas, not {text!r}") from None


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
