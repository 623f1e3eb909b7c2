"""`archbench plan --emit`: the deployment of a real run's plan, written as strictly valid
Kubernetes manifests or compose files that agree with the topology and carry the plan's replicas,
sizes and validation error; mistakes get one line; a user's files are never lost."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from bench.analyse import cost, demand, plan, planned
from pipeline.paths import ROOT
from stack.compose import compose_file, disagreements, resolve, totals
from stack.emit import compose_project, compose_replicas, load, split_sizes
from stack.kubernetes_check import by_kind, validate
from stack.kubernetes_check import disagreements as kubernetes_disagreements
from stack.topology import ARCHITECTURES, Budget
from tests.bench.conftest import ARCHBENCH

FIXTURE = Path(__file__).parent / "fixtures" / "bench-run.json"
RATE_RPS, SLO_MS = 1000.0, 100.0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding the summary of a real `make bench` run (the checked-in fixture)."""
    folder = tmp_path_factory.mktemp("run")
    summary = json.loads(FIXTURE.read_text())
    (folder / "summary.json").write_text(json.dumps(summary))
    meta = {"schema_version": summary["schema_version"], "config": {"slo_ms": SLO_MS}}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """The plan's own answer (what its table prints) and models, computed in this process."""
    summary = json.loads(FIXTURE.read_text())
    prices = cost.load_prices(cost.DEFAULT_PRICES)
    models = {a: m for a, (m, _) in demand.models_of(summary).items()}
    choices = {a: plan.cheapest(m, RATE_RPS, SLO_MS, prices) for a, m in models.items()}
    return {
        "models": models,
        "choices": choices,
        "plan": plan.from_summary(summary, SLO_MS, prices),
    }


def emit(run_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ARCHBENCH, "plan", str(run_dir), "--rate", f"{RATE_RPS:g}", "--slo-ms", f"{SLO_MS:g}",
         *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def kubernetes_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("k8s") / "deploy"
    done = emit(run_dir, "--emit", "kubernetes", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def compose_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compose")
    done = emit(run_dir, "--emit", "compose", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_both_architectures_are_written(kubernetes_dir: Path, expected: dict[str, Any]) -> None:
    # the fixture's plan needs more than one replica somewhere, so replicas are really tested
    assert any(c > 1 for c in expected["choices"]["micro"]["replicas"].values())
    assert sorted(p.name for p in kubernetes_dir.iterdir()) == ["micro.yaml", "monolith.yaml"]


@pytest.mark.parametrize("arch", ["monolith", "micro"])
def test_the_manifests_are_valid_and_carry_the_planned_replicas(
    kubernetes_dir: Path, expected: dict[str, Any], arch: str
) -> None:
    docs = load((kubernetes_dir / f"{arch}.yaml").read_text())
    validate(docs)
    choice = expected["choices"][arch]
    sizes = planned.sizes(expected["models"][arch], choice)
    assert kubernetes_disagreements(arch, docs, sizes) == []
    replicas = {n: d["spec"]["replicas"] for n, d in by_kind(docs, "Deployment").items()}
    assert replicas == choice["replicas"]
    autoscalers = by_kind(docs, "HorizontalPodAutoscaler")
    assert {n: h["spec"]["minReplicas"] for n, h in autoscalers.items()} == {
        n: c for n, c in choice["replicas"].items() if n != "gateway" and arch != "monolith"
    }
    # the autoscalers add pods only past the load the plan expects
    busy = planned.utilisation_percent(expected["models"][arch], choice, RATE_RPS)
    for hpa in autoscalers.values():
        metric = hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]
        assert metric > busy and hpa["spec"]["maxReplicas"] == 2 * hpa["spec"]["minReplicas"]


@pytest.mark.parametrize("arch", ["monolith", "micro"])
def test_cpu_requests_add_up_to_the_planned_cores(
    kubernetes_dir: Path, expected: dict[str, Any], arch: str
) -> None:
    docs = load((kubernetes_dir / f"{arch}.yaml").read_text())
    total = Fraction(0)
    containers = 0
    for deployment in by_kind(docs, "Deployment").values():
        cpu = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"][
            "cpu"
        ]
        each = Fraction(int(cpu.removesuffix("m")), 1000) if cpu.endswith("m") else Fraction(cpu)
        assert each <= 1  # one single-threaded process per container
        total += each * deployment["spec"]["replicas"]
        containers += deployment["spec"]["replicas"]
    cores = Fraction(str(expected["choices"][arch]["cores"]))
    # each container's request is rounded up to a millicore, never down
    assert cores <= total <= cores + Fraction(containers, 1000)


@pytest.mark.parametrize("arch", ["monolith", "micro"])
def test_the_header_states_the_plan_and_its_validation_error(
    kubernetes_dir: Path, expected: dict[str, Any], arch: str
) -> None:
    text = (kubernetes_dir / f"{arch}.yaml").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    head = "\n".join(header)
    error = expected["plan"]["validation_error"]
    assert f"validation error {error:.1%} on average" in head
    assert f"for {RATE_RPS:g} req/s at p99 <= {SLO_MS:g} ms" in head
    cheaper, _ = plan.compare(expected["choices"])
    assert ("the cheaper architecture" in head) == (arch == cheaper)
    for name, choice in expected["choices"].items():
        row = next(line for line in header if line.startswith(f"# {name} "))
        assert row.endswith(", ".join(f"{n} {c}" for n, c in choice["replicas"].items()))
    # the header is all comment: the documents start right after it
    assert text.splitlines()[len(header)] == "apiVersion: v1"


@pytest.mark.parametrize("arch", ["monolith", "micro"])
def test_the_compose_files_agree_with_the_topology_and_the_plan(
    compose_dir: Path, expected: dict[str, Any], arch: str
) -> None:
    path = compose_dir / f"docker-compose.{arch}.yml"
    resolved = resolve(path)
    choice = expected["choices"][arch]
    sizes = planned.sizes(expected["models"][arch], choice)
    cpus, memory = totals(resolved)
    found = disagreements(
        arch,
        resolved,
        Budget(float(cpus), memory),
        replicas=compose_replicas(arch, sizes),
        split=planned.planned_limits(expected["models"][arch], choice),
    )
    assert found == []
    cores = Fraction(str(choice["cores"]))
    assert cores <= cpus <= cores + Fraction(len(resolved["services"]), 1000)
    # Engine 20.10 knows no start_interval
    assert "start_interval" not in path.read_text()
    if arch == "monolith":
        assert resolved["services"]["monolith"]["command"][-2:] == [
            "--workers",
            str(choice["replicas"]["monolith"]),
        ]
    else:
        stages = {n: c for n, c in choice["replicas"].items() if n != "gateway"}
        names = set(resolved["services"])
        for stage, count in stages.items():
            assert {stage, *(f"{stage}-{k}" for k in range(2, count + 1))} <= names
            assert f"{stage}-{count + 1}" not in names


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_sized_by_the_budget_split_the_emitter_writes_the_committed_compose_file(
    tmp_path: Path, arch: str
) -> None:
    from stack.emit import dump

    path = tmp_path / f"docker-compose.{arch}.yml"
    path.write_text(dump([compose_project(arch, split_sizes(arch), ROOT)], ["emitted"]))
    committed = resolve(compose_file(arch))
    # the committed files' x- anchors are the only difference
    assert resolve(path) == {k: v for k, v in committed.items() if not k.startswith("x-")}


@pytest.mark.parametrize(
    ("flags", "expected_line"),
    [
        (["--emit", "helm", "--out", "x"], "argument --emit: invalid choice: 'helm'"),
        (["--emit", "kubernetes"], "--emit and --out go together"),
        (["--out", "somewhere"], "--emit and --out go together"),
    ],
)
def test_bad_emit_flags_get_one_line(run_dir: Path, flags: list[str], expected_line: str) -> None:
    done = emit(run_dir, *flags)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected_line in done.stderr, done.stderr
    # the one line names what is valid
    assert "kubernetes" in done.stderr and "compose" in done.stderr


def test_the_users_files_are_never_lost(run_dir: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    first = emit(run_dir, "--emit", "kubernetes", "--out", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert notes.read_text() == "mine"
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}
    (tmp_path / "micro.yaml").write_text("edited by hand")
    again = emit(run_dir, "--emit", "kubernetes", "--out", str(tmp_path))
    assert again.returncode == 1
    assert (
        again.stderr.startswith("archbench: not overwriting ")
        and len(again.stderr.splitlines()) == 1
    ), again.stderr
    # nothing was written: the hand-edited file and the others are as they were
    assert (tmp_path / "micro.yaml").read_text() == "edited by hand"
    assert (tmp_path / "monolith.yaml").read_text() == written["monolith.yaml"]
    # compose files have names of their own, so they go beside the manifests
    assert emit(run_dir, "--emit", "compose", "--out", str(tmp_path)).returncode == 0


def test_an_out_that_is_a_file_gets_one_line(run_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "plan.yaml"
    target.write_text("mine")
    done = emit(run_dir, "--emit", "compose", "--out", str(target))
    assert (
        done.returncode == 1
        and done.stderr == f"archbench: --out {target} is a file, not a folder\n"
    )
    assert target.read_text() == "mine"
