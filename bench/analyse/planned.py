"""The deployment a plan calls for, written out: per architecture its Kubernetes manifests or its
compose file, sized as the capacity model says, with the plan and its validation error on top.

Sizes (stack.emit.Size) from a plan's choice of K cores and c_s replicas per station, with D_s the
station's CPU-ms per request and D their sum:
- replicas: c_s (a monolith's workers become pods of one worker each on Kubernetes, workers of
  its one container in compose);
- CPU request per container: the station's share of the cores, K · D_s / D / c_s (never above
  one core: the plan gives a station as many replicas as its share needs), rounded up to a
  millicore; the requests of a deployment add up to its K cores;
- CPU limit (Kubernetes): one core, what one single-threaded process can use; a limit near the
  request would throttle a process in bursts, which the model does not assume (compose caps each
  container at its request, as the committed compose files cap theirs at their share);
- memory request: the station's memory measured per process, rounded up to a MiB; limit: the
  larger of that and the service's share of the measured budget, the limit it ran within;
- autoscaler per stage: from the planned replicas to twice that, its CPU target the utilisation
  the plan expects at its rate plus 10 points, so that it adds pods only past the planned load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from bench.analyse import capacity_model as cm
from bench.analyse.plan import compare as compare_choices
from pipeline.errors import UserError
from pipeline.paths import ROOT
from stack import kubernetes
from stack.emit import Size, compose_limits, compose_project, dump, millicores, whole_mib
from stack.topology import Budget, shares

EMITS = ("kubernetes", "compose")
MiB = 1 << 20
# Utilisation points above the planned one before an autoscaler adds pods.
HEADROOM_PERCENT = 10


class EmitError(UserError):
    """The plan's files cannot be written where asked."""


def file_name(emit: str, arch: str) -> str:
    """The one name `--emit` writes for an architecture."""
    return f"{arch}.yaml" if emit == "kubernetes" else f"docker-compose.{arch}.yml"


def sizes(model: cm.Model, choice: Mapping[str, Any]) -> dict[str, Size]:
    """Each station's replicas and per-container CPU and memory (module docstring)."""
    split = shares(model.arch, Budget())
    cores = Fraction(str(choice["cores"]))
    out = {}
    for station in model.stations:
        replicas = int(choice["replicas"].get(station.name, 1))
        share = cores * Fraction(station.cpu_ms) / Fraction(model.cpu_ms) / replicas
        # A run without memory samples gives 0: ask for the share it was measured within.
        memory = whole_mib(station.memory_bytes) or split[station.name][1]
        out[station.name] = Size(
            replicas,
            max(Fraction(1, 1000), millicores(share)),
            memory,
            Fraction(1),
            max(memory, split[station.name][1]),
        )
    return out


def utilisation_percent(model: cm.Model, choice: Mapping[str, Any], rate_rps: float) -> float:
    """The share of its requested CPU each container uses at the planned rate."""
    return 100 * rate_rps * model.cpu_ms / 1000 / float(choice["cores"])


def autoscaling(
    model: cm.Model, choice: Mapping[str, Any], rate_rps: float
) -> dict[str, kubernetes.Autoscaling]:
    target = math.ceil(utilisation_percent(model, choice, rate_rps)) + HEADROOM_PERCENT
    return {
        name: kubernetes.Autoscaling(count, 2 * count, target)
        for name, count in choice["replicas"].items()
    }


def header(
    arch: str,
    rate_rps: float,
    slo_ms: float,
    run_dir: Path,
    choices: Mapping[str, Mapping[str, Any] | None],
    cheaper: str | None,
    saving: float | None,
    plan: Mapping[str, Any],
) -> list[str]:
    """The comment at the top of each written file: what it is, the plan, how far to trust it."""
    if cheaper is None:
        role = "the only architecture the plan could size"
    elif arch == cheaper:
        role = f"the cheaper architecture (by {saving:.0%} per request)"
    else:
        role = f"the dearer architecture ({cheaper} is {saving:.0%} cheaper per request)"
    error, worst = plan.get("validation_error"), plan.get("validation_error_max")
    if error is None:
        validation = "no capacity was measured to check the model against: it is unvalidated."
    else:
        validation = (
            f"validation error {error:.1%} on average, {worst:.1%} at worst: how far the model's "
            f"capacities were from the {len(plan.get('validation') or [])} measured in that run."
        )
    lines = [
        f"archbench plan: {arch}, {role}, for {rate_rps:g} req/s at p99 <= {slo_ms:g} ms.",
        f"Sized by the capacity model of the run {run_dir} (measured at p99 <= "
        f"{plan.get('measured_slo_ms', slo_ms):g} ms);",
        validation,
        "",
        f"{'arch':<12} {'cores':>6} {'max req/s':>10} {'memory MiB':>11} {'$/hour':>8} "
        f"{'$/M req':>8}  replicas",
    ]
    for name, choice in choices.items():
        if choice is None:
            lines.append(f"{name:<12} {'-':>6}  cannot serve this rate within the objective")
            continue
        replicas = ", ".join(f"{n} {c}" for n, c in choice["replicas"].items())
        lines.append(
            f"{name:<12} {choice['cores']:>6g} {choice['max_rps']:>10.0f} "
            f"{choice['memory_bytes'] / MiB:>11.0f} {choice['usd_per_hour']:>8.4f} "
            f"{choice['usd_per_million']:>8.4f}  {replicas}"
        )
    lines += [
        "",
        "CPU requests add up to the planned cores (each rounded up to a millicore); how each size",
        "is derived: bench/analyse/planned.py.",
        "Check the plan: deploy this, then `archbench bench --target "
        f"{arch}=URL` and compare its capacity with max req/s above.",
    ]
    return lines


def render(
    emit: str, model: cm.Model, choice: Mapping[str, Any], rate_rps: float, lines: list[str]
) -> str:
    """One architecture's file text."""
    sized = sizes(model, choice)
    gateways = sized["gateway"].replicas if "gateway" in sized else 1
    if emit == "compose" and gateways > 1:
        lines = [
            *lines,
            f"The plan wants {gateways} gateways; compose runs one (the one published port) with",
            "their CPU, which one process cannot use past a core: run the Kubernetes manifests",
            "(`--emit kubernetes`) to reach the planned rate.",
        ]
    if emit == "kubernetes":
        docs = kubernetes.manifests(model.arch, sized, autoscaling(model, choice, rate_rps))
        return dump(docs, lines)
    return dump([compose_project(model.arch, sized, ROOT, f"archbench-{model.arch}-plan")], lines)


def planned_limits(model: cm.Model, choice: Mapping[str, Any]) -> dict[str, tuple[Fraction, int]]:
    """What the compose file of a plan limits each service to (for checking it)."""
    return compose_limits(model.arch, sizes(model, choice))


def write(emit: str, out: Path, texts: Mapping[str, str]) -> list[Path]:
    """Write each architecture's file into `out`, which may hold other files: only our own file
    names are written, and none that already exists is replaced (EmitError names it)."""
    if emit not in EMITS:
        raise EmitError(f"unknown --emit {emit!r}; choose one of: {', '.join(EMITS)}")
    if out.exists() and not out.is_dir():
        raise EmitError(f"--out {out} is a file, not a folder")
    paths = {arch: out / file_name(emit, arch) for arch in texts}
    taken = [str(p) for p in paths.values() if p.exists()]
    if taken:
        raise EmitError(f"not overwriting {', '.join(taken)}; remove it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    for arch, path in paths.items():
        # "x": should a file of that name appear meanwhile, fail rather than replace it.
        with path.open("x") as file:
            file.write(texts[arch])
    return list(paths.values())


def emit_plan(
    emit: str,
    out: Path,
    models: Mapping[str, cm.Model],
    choices: Mapping[str, dict[str, Any] | None],
    rate_rps: float,
    slo_ms: float,
    run_dir: Path,
    plan: Mapping[str, Any],
) -> tuple[list[Path], list[str]]:
    """Write the file of every architecture the plan could size; (written, those it could not)."""
    cheaper, saving = compare_choices(choices)
    texts = {}
    for arch, choice in choices.items():
        if choice is not None:
            lines = header(arch, rate_rps, slo_ms, run_dir, choices, cheaper, saving, plan)
            texts[arch] = render(emit, models[arch], choice, rate_rps, lines)
    return write(emit, out, texts), [a for a, c in choices.items() if c is None]
