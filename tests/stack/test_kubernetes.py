"""The Kubernetes manifests are what the generator makes from the topology, strictly valid for the
stated Kubernetes version, and agree with the topology, the compose files and the image."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from pipeline.paths import ROOT
from serving.settings import Settings
from stack.compose import compose_file, resolve
from stack.emit import load, split_sizes
from stack.kubernetes import KUBERNETES_VERSION, committed_text, manifest_file, namespace
from stack.kubernetes_check import (
    ManifestError,
    allowed_peers,
    by_kind,
    disagreements,
    validate,
)
from stack.topology import ARCHITECTURES, Budget, services

Docs = list[dict[str, Any]]
MiB = 1 << 20


@pytest.fixture(scope="module")
def committed() -> dict[str, Docs]:
    return {arch: load(manifest_file(arch).read_text()) for arch in ARCHITECTURES}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_committed_file_is_what_the_generator_makes(arch: str) -> None:
    assert manifest_file(arch).read_text() == committed_text(arch), (
        f"{manifest_file(arch)} is stale: `python -m stack.kubernetes` rewrites it"
    )


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_manifest_is_strictly_valid(arch: str, committed: dict[str, Docs]) -> None:
    kinds = [d["kind"] for d in committed[arch]]
    expected = {"Namespace", "Deployment", "Service"}
    if arch != "monolith":
        expected |= {"HorizontalPodAutoscaler", "NetworkPolicy"}
    assert set(kinds) == expected
    validate(committed[arch], KUBERNETES_VERSION)


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        # strict: an unknown (here misspelt, optional) key is refused, not ignored
        ("imagePullPolicy: IfNotPresent", "imagePullpolicy: IfNotPresent", "'imagePullpolicy'"),
        ("replicas: 1", "replicas: one", "'one' is not of type 'integer'"),
        ("type: ClusterIP", "type: [ClusterIP]", "spec.type"),
    ],
)
def test_validation_rejects_a_broken_copy(old: str, new: str, complaint: str) -> None:
    text = manifest_file("micro").read_text()
    assert old in text
    with pytest.raises(ManifestError, match=re.escape(complaint)):
        validate(load(text.replace(old, new, 1)))


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_each_file_agrees_with_the_topology_and_the_budget_split(
    arch: str, committed: dict[str, Docs]
) -> None:
    assert disagreements(arch, committed[arch], split_sizes(arch)) == []


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_only_the_entry_point_leaves_the_cluster(arch: str, committed: dict[str, Docs]) -> None:
    types = {
        n: s["spec"].get("type", "ClusterIP")
        for n, s in by_kind(committed[arch], "Service").items()
    }
    entry = next(s.name for s in services(arch) if s.entry)
    assert types == {n: "LoadBalancer" if n == entry else "ClusterIP" for n in types}
    assert {
        d["metadata"].get("namespace") for d in committed[arch] if d["kind"] != "Namespace"
    } == {namespace(arch)}


@pytest.mark.parametrize("arch", ["micro", "micro-flask"])
def test_only_the_gateway_reaches_the_stages(arch: str, committed: dict[str, Docs]) -> None:
    docs = committed[arch]
    pods = {
        n: d["spec"]["template"]["metadata"]["labels"]
        for n, d in by_kind(docs, "Deployment").items()
    }
    for service in services(arch):
        peers = allowed_peers(docs, pods[service.name], service.port)
        # the gateway itself is the public API: anyone may reach it
        assert peers == ({"*"} if service.entry else {"gateway"}), service.name
        # no other port of a stage is open to anyone
        if not service.entry:
            assert allowed_peers(docs, pods[service.name], service.port + 5) == set()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_requests_and_limits_add_up_to_the_budget(arch: str, committed: dict[str, Docs]) -> None:
    total_cpu, total_memory = Fraction(0), 0
    for deployment in by_kind(committed[arch], "Deployment").values():
        resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
        assert resources["requests"] == resources["limits"]
        cpu, memory = resources["requests"]["cpu"], resources["requests"]["memory"]
        total_cpu += Fraction(int(cpu.removesuffix("m")), 1000) if cpu.endswith("m") else int(cpu)
        total_memory += int(memory.removesuffix("Mi")) * MiB
    budget = Budget()
    assert (total_cpu, total_memory) == (Fraction(str(budget.cpus)), budget.memory_bytes)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_commands_and_environment_are_the_compose_files(
    arch: str, committed: dict[str, Docs]
) -> None:
    composed = resolve(compose_file(arch))["services"]
    for name, deployment in by_kind(committed[arch], "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == composed[name]["command"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env == composed[name]["environment"]


@pytest.mark.parametrize("arch", ["micro", "micro-flask"])
def test_the_gateway_reaches_each_stage_service_by_name(
    arch: str, committed: dict[str, Docs]
) -> None:
    docs = committed[arch]
    gateway = by_kind(docs, "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]
    # what the gateway process itself reads from its environment
    settings = Settings.from_env({e["name"]: e["value"] for e in gateway["env"]})
    ports = {n: s["spec"]["ports"][0]["port"] for n, s in by_kind(docs, "Service").items()}
    assert settings.stage_urls == {
        stage: f"http://{stage}:{ports[stage]}" for stage in ports if stage != "gateway"
    }


def test_the_image_is_the_one_make_image_builds(committed: dict[str, Docs]) -> None:
    makefile, dockerfile = (ROOT / "Makefile").read_text(), (ROOT / "Dockerfile").read_text()
    uid = re.search(r"--uid (\d+)", dockerfile)
    assert uid is not None
    # the manifests leave the listening address to the image: every interface of the pod, so
    # that probes and Services reach the process
    assert "ARCHBENCH_HOST=0.0.0.0" in dockerfile
    for docs in committed.values():
        for deployment in by_kind(docs, "Deployment").values():
            pod = deployment["spec"]["template"]["spec"]
            image = pod["containers"][0]["image"]
            assert f"-t {image} ." in makefile
            assert pod["securityContext"]["runAsUser"] == int(uid.group(1))


def _service(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Docs], None]:
    def apply(docs: Docs) -> None:
        change(by_kind(docs, "Service")[name])

    return apply


def _container(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Docs], None]:
    def apply(docs: Docs) -> None:
        change(by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0])

    return apply


def _policy(change: Callable[[dict[str, Any]], None]) -> Callable[[Docs], None]:
    def apply(docs: Docs) -> None:
        change(by_kind(docs, "NetworkPolicy")["stages-from-gateway-only"]["spec"])

    return apply


def _drop(kind: str, name: str) -> Callable[[Docs], None]:
    def apply(docs: Docs) -> None:
        docs[:] = [d for d in docs if (d["kind"], d["metadata"]["name"]) != (kind, name)]

    return apply


def _retarget(docs: Docs) -> None:
    by_kind(docs, "HorizontalPodAutoscaler")["score"]["spec"]["scaleTargetRef"]["name"] = "gateway"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (_container("score", lambda c: c.update(command=["python", "-m", "monolith"])), "command"),
        (_container("gateway", lambda c: c["env"].pop()), "environment"),
        (_container("score", lambda c: c.update(image="score:1")), "image"),
        (
            _container("score", lambda c: c["readinessProbe"]["httpGet"].update(path="/healthz")),
            "readinessProbe",
        ),
        (_container("score", lambda c: c.pop("livenessProbe")), "livenessProbe"),
        (_container("score", lambda c: c["ports"][0].update(containerPort=9000)), "ports"),
        (_container("score", lambda c: c["ports"][0].update(hostPort=8004)), "host ports"),
        (_container("score", lambda c: c["resources"].pop("limits")), "limits.cpu set"),
        (_container("score", lambda c: c["resources"]["requests"].update(cpu="1")), "resources"),
        (
            _service("score", lambda s: s["spec"].update(type="LoadBalancer")),
            "only the entry point",
        ),
        (
            _service("gateway", lambda s: s["spec"].update(type="ClusterIP")),
            "expected LoadBalancer",
        ),
        (_service("score", lambda s: s["spec"]["ports"][0].update(port=80)), "ports are"),
        (_drop("Deployment", "score"), "Deployment 'score' is missing"),
        (_drop("HorizontalPodAutoscaler", "features"), "no autoscaler for stage 'features'"),
        (_retarget, "autoscaler 'score' scales Deployment gateway"),
        (_drop("NetworkPolicy", "stages-from-gateway-only"), "reachable from ['*']"),
        (
            _policy(lambda p: p["ingress"][0].update({"from": [{"podSelector": {}}]})),
            "reachable from",
        ),
        (_policy(lambda p: p["ingress"][0].pop("from")), "reachable from ['*']"),
        (
            _policy(lambda p: p["ingress"].append({"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})),
            "['*']",
        ),
    ],
)
def test_every_difference_from_the_topology_is_reported(
    committed: dict[str, Docs], change: Callable[[Docs], None], complaint: str
) -> None:
    docs = copy.deepcopy(committed["micro"])
    change(docs)
    found = disagreements("micro", docs, split_sizes("micro"))
    assert any(complaint in problem for problem in found), found
