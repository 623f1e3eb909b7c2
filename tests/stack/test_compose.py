"""The compose files are valid Compose and describe the topology's stacks within equal budgets."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from pipeline.paths import DEFAULT_MODEL_DIR, ROOT
from stack.compose import (
    ComposeError,
    compose_file,
    disagreements,
    limits,
    probe,
    resolve,
    totals,
)
from stack.topology import ARCHITECTURES, Budget, services


@pytest.fixture(scope="module")
def resolved() -> dict[str, dict[str, Any]]:
    return {arch: resolve(compose_file(arch)) for arch in ARCHITECTURES}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_compose_accepts_each_file(arch: str, resolved: dict[str, dict[str, Any]]) -> None:
    config = resolved[arch]
    assert config["name"] == f"archbench-{arch}"
    assert set(config["services"]) == {s.name for s in services(arch)}


@pytest.mark.parametrize(
    ("arch", "old", "new", "complaint"),
    [
        ("monolith", "command:", "comand:", "additional properties 'comand' not allowed"),
        ("micro", "      score:\n", "      scorer:\n", 'undefined service "scorer"'),
        ("micro-flask", 'cpus: "0.2"', 'cpus: "a fifth"', "cpus"),
        ("micro", "restart: unless-stopped", "restart: [sometimes]", "restart"),
    ],
)
def test_compose_rejects_a_broken_copy(
    tmp_path: Path, arch: str, old: str, new: str, complaint: str
) -> None:
    copied = Path(shutil.copy(compose_file(arch), tmp_path))
    # The copy is accepted as it is, so what Compose rejects below is the breakage alone.
    assert resolve(copied)["services"]
    text = copied.read_text()
    assert old in text
    copied.write_text(text.replace(old, new))
    with pytest.raises(ComposeError, match=complaint):
        resolve(copied)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_file_agrees_with_the_topology(arch: str, resolved: dict[str, dict[str, Any]]) -> None:
    assert disagreements(arch, resolved[arch]) == []


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_only_the_entry_point_is_published_on_the_runner_port(
    arch: str, resolved: dict[str, dict[str, Any]]
) -> None:
    published = {
        name: [p["published"] for p in service.get("ports", [])]
        for name, service in resolved[arch]["services"].items()
    }
    entry = next(s.name for s in services(arch) if s.entry)
    assert published == {name: ["8000"] if name == entry else [] for name in published}


def _set(path: tuple[str, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        node = config
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return change


def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _publish_score(config: dict[str, Any]) -> None:
    config["services"]["score"]["ports"] = [{"target": 8004, "published": "8004"}]


def _swap_memory(config: dict[str, Any]) -> None:
    """Same total, another split: score gets the gateway's memory and the gateway score's."""
    score = config["services"]["score"]["deploy"]["resources"]["limits"]
    gateway = config["services"]["gateway"]["deploy"]["resources"]["limits"]
    score["memory"], gateway["memory"] = gateway["memory"], score["memory"]


GATEWAY = ("services", "gateway")
SCORE = ("services", "score")
PROBE_8009 = probe(8009, "/readyz")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (_set((*SCORE, "command"), ["python", "-m", "microservices.stage", "score"]), "command"),
        (_set((*GATEWAY, "environment", "ARCHBENCH_SCORE_URL"), "http://score:9"), "environment"),
        (_delete((*SCORE, "environment", "OMP_NUM_THREADS")), "environment"),
        (_set((*SCORE, "healthcheck", "test"), PROBE_8009), "healthcheck"),
        (_set((*SCORE, "healthcheck", "disable"), True), "healthcheck disable"),
        (_delete((*GATEWAY, "depends_on", "score")), "depends_on"),
        (_set((*GATEWAY, "depends_on", "score", "condition"), "service_started"), "depends_on"),
        (_set((*SCORE, "depends_on"), {"ingest": {"condition": "service_healthy"}}), "depends_on"),
        (_set((*SCORE, "restart"), "no"), "restart"),
        (_set((*SCORE, "image"), "archbench-score:latest"), "image"),
        (_publish_score, "published ports"),
        (_delete((*GATEWAY, "ports")), "published ports"),
        (_set((*SCORE, "expose"), []), "exposed ports"),
        (_delete(SCORE), "'score' is missing"),
        (_set(("services", "cache"), {}), "'cache' is not in the topology"),
        (_delete((*SCORE, "deploy")), "'score' has no CPU limit"),
        (_set((*SCORE, "deploy", "resources", "limits", "memory"), "1"), "memory limits add up"),
        (_set((*SCORE, "deploy", "resources", "limits", "cpus"), 0.25), "CPU limits add up"),
        (_swap_memory, "its share of the budget"),
    ],
)
def test_every_difference_from_the_topology_is_reported(
    resolved: dict[str, dict[str, Any]],
    change: Callable[[dict[str, Any]], None],
    complaint: str,
) -> None:
    config = copy.deepcopy(resolved["micro"])
    change(config)
    found = disagreements("micro", config)
    assert any(complaint in problem for problem in found), found


def test_every_stack_gets_the_whole_budget_and_no_more(
    resolved: dict[str, dict[str, Any]],
) -> None:
    budget = Budget()
    whole = (Fraction(str(budget.cpus)), budget.memory_bytes)
    assert {arch: totals(config) for arch, config in resolved.items()} == dict.fromkeys(
        ARCHITECTURES, whole
    )


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_service_is_limited(arch: str, resolved: dict[str, dict[str, Any]]) -> None:
    found = limits(resolved[arch])
    assert set(found) == {s.name for s in services(arch)}
    assert all(cpus and memory for cpus, memory in found.values()), found


def test_every_service_builds_the_one_image(resolved: dict[str, dict[str, Any]]) -> None:
    images = {
        (s["image"], s["build"]["context"], s["build"]["dockerfile"])
        for config in resolved.values()
        for s in config["services"].values()
    }
    assert images == {("archbench:latest", str(ROOT), "Dockerfile")}


def test_every_service_serves_the_mounted_model(resolved: dict[str, dict[str, Any]]) -> None:
    # The image's demo by default (a named volume Docker fills from the image), or the folder
    # ARCHBENCH_MODEL names: the same folder for every service, read-only, where the services
    # look for their bundle (the image is the checkout at /app).
    target = "/app/" + str(DEFAULT_MODEL_DIR.relative_to(ROOT))
    for arch, config in resolved.items():
        for name, service in config["services"].items():
            mounts = [(v["source"], v["target"], v.get("read_only")) for v in service["volumes"]]
            assert mounts == [("demo-model", target, True)], (arch, name)
        assert set(config["volumes"]) == {"demo-model"}
