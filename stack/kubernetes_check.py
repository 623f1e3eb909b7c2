"""Check Kubernetes manifests: strictly valid for a Kubernetes version (the schemas bundled with
kubernetes-validate, offline), and in agreement with the topology: services, commands, ports,
probes, what is exposed, autoscalers and who may reach the stages.

kubernetes-validate is a dev dependency: only the tests (and a user checking a plan) import this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pipeline.errors import UserError
from pipeline.stages import STAGE_NAMES
from stack.compose import IMAGE
from stack.emit import Size
from stack.kubernetes import (
    COMPONENT,
    KUBERNETES_VERSION,
    NAME,
    PORT_NAME,
    namespace,
    readiness_path,
    resources,
)
from stack.topology import COMMON_ENV, DEFAULT_PORT, Service, services

Manifest = Mapping[str, Any]


class ManifestError(UserError):
    """A manifest is not valid for the Kubernetes version; the message names where and why."""


def validate(documents: Iterable[Manifest], version: str = KUBERNETES_VERSION) -> None:
    """Strict validation of every document; ManifestError on the first invalid one."""
    import kubernetes_validate

    for doc in documents:
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(top)"
            name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
            raise ManifestError(f"{name} at {where}: {exc.message}") from None
        except kubernetes_validate.SchemaNotFoundError as exc:
            raise ManifestError(exc.message) from None


def by_kind(documents: Iterable[Manifest], kind: str) -> dict[str, Manifest]:
    """The documents of one kind by name."""
    return {d["metadata"]["name"]: d for d in documents if d.get("kind") == kind}


def disagreements(
    arch: str, documents: Iterable[Manifest], sizes: Mapping[str, Size] | None = None
) -> list[str]:
    """Every way the manifests of `arch` differ from the topology (and from `sizes`, if given)."""
    docs = list(documents)
    expected = services(arch, DEFAULT_PORT, host=lambda name: name)
    names = {s.name for s in expected}
    problems = [
        f"{d.get('kind')} {d['metadata'].get('name')!r} is outside namespace {namespace(arch)!r}"
        for d in docs
        if d.get("kind") != "Namespace" and d["metadata"].get("namespace") != namespace(arch)
    ]
    deployments, svcs = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    for kind, found in (("Deployment", deployments), ("Service", svcs)):
        problems += [f"{kind} {n!r} is not in the topology" for n in found if n not in names]
        problems += [f"{kind} {n!r} is missing" for n in sorted(names - set(found))]
    for service in expected:
        if service.name in deployments:
            got = deployments[service.name]
            size = (sizes or {}).get(service.name)
            for what, want, have in _deployment_fields(service, got, size):
                if have != want:
                    problems.append(f"{service.name!r}: {what} is {have!r}, expected {want!r}")
        if service.name in svcs:
            problems += _service_problems(service, svcs[service.name])
    return problems + _autoscaler_problems(arch, docs) + _reach_problems(arch, docs, expected)


def _deployment_fields(
    service: Service, got: Manifest, size: Size | None
) -> Iterator[tuple[str, object, object]]:
    pod = got["spec"]["template"]
    yield "selector", {NAME: service.name}, got["spec"]["selector"].get("matchLabels")
    yield "pod name label", service.name, pod["metadata"].get("labels", {}).get(NAME)
    containers = pod["spec"].get("containers", [])
    yield "containers", 1, len(containers)
    c = containers[0] if containers else {}
    yield "image", IMAGE, c.get("image")
    yield "command", ["python", "-m", service.module, *service.args], c.get("command")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    yield "environment", {**COMMON_ENV, **service.env}, env
    ports = [(p.get("name"), p.get("containerPort")) for p in c.get("ports", [])]
    yield "ports", [(PORT_NAME, service.port)], ports
    yield "host ports", [], [p["hostPort"] for p in c.get("ports", []) if "hostPort" in p]
    for probe, path in (("readinessProbe", readiness_path(service)), ("livenessProbe", "/healthz")):
        http = (c.get(probe) or {}).get("httpGet") or {}
        port = http.get("port")
        named = PORT_NAME if port == service.port else port
        yield probe, (path, PORT_NAME), (http.get("path"), named)
    found = c.get("resources") or {}
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            yield f"{part}.{resource} set", True, resource in (found.get(part) or {})
    if size is not None:
        yield "replicas", size.replicas, got["spec"].get("replicas")
        yield "resources", resources(size), found


def _service_problems(service: Service, got: Manifest) -> list[str]:
    spec = got["spec"]
    problems = []
    want_type = "LoadBalancer" if service.entry else "ClusterIP"
    if spec.get("type", "ClusterIP") != want_type:
        problems.append(
            f"Service {service.name!r} is {spec.get('type', 'ClusterIP')}, expected {want_type}"
            + (" (only the entry point is exposed)" if not service.entry else "")
        )
    if spec.get("selector") != {NAME: service.name}:
        problems.append(f"Service {service.name!r} selects {spec.get('selector')!r}")
    ports = [(p.get("port"), p.get("targetPort")) for p in spec.get("ports", [])]
    if ports not in ([(service.port, PORT_NAME)], [(service.port, service.port)]):
        problems.append(f"Service {service.name!r} ports are {ports!r}, expected {service.port}")
    if spec.get("externalIPs"):
        problems.append(f"Service {service.name!r} has external IPs")
    return problems


def _autoscaler_problems(arch: str, docs: list[Manifest]) -> list[str]:
    found = by_kind(docs, "HorizontalPodAutoscaler")
    wanted = set() if arch == "monolith" else set(STAGE_NAMES)
    problems = [f"no autoscaler for stage {n!r}" for n in sorted(wanted - set(found))]
    problems += [f"autoscaler {n!r} is not one per stage" for n in found if n not in wanted]
    for name, hpa in found.items():
        spec, target = hpa["spec"], hpa["spec"]["scaleTargetRef"]
        if (target.get("kind"), target.get("name")) != ("Deployment", name):
            problems.append(f"autoscaler {name!r} scales {target.get('kind')} {target.get('name')}")
        if spec.get("minReplicas", 1) > spec["maxReplicas"]:
            problems.append(f"autoscaler {name!r}: minReplicas above maxReplicas")
    return problems


def allowed_peers(docs: Iterable[Manifest], pod_labels: Mapping[str, str], port: int) -> set[str]:
    """Which pods (by name label) the network policies let reach a pod on a port; {"*"} when the
    pod is selected by no policy (everyone can), or a rule admits every source."""
    docs = list(docs)
    pods = [
        d["spec"]["template"]["metadata"]["labels"] for d in by_kind(docs, "Deployment").values()
    ]
    selecting = [
        p
        for p in by_kind(docs, "NetworkPolicy").values()
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], pod_labels)
    ]
    if not selecting:
        return {"*"}
    peers: set[str] = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = [p.get("port") for p in rule.get("ports") or []]
            if ports and port not in ports:
                continue
            sources = rule.get("from")
            if not sources:
                return {"*"}
            for source in sources:
                if set(source) != {"podSelector"}:
                    return {"*"}  # a namespace or address block: outside our pods
                peers |= {p[NAME] for p in pods if _selects(source["podSelector"], p)}
    return peers


def _selects(selector: Mapping[str, Any], pod_labels: Mapping[str, str]) -> bool:
    if set(selector) - {"matchLabels"}:
        return False  # matchExpressions are not used here; count them as not matching
    return all(pod_labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _reach_problems(arch: str, docs: list[Manifest], stack: tuple[Service, ...]) -> list[str]:
    if arch == "monolith":
        return []
    problems = []
    deployments = by_kind(docs, "Deployment")
    for service in stack:
        if service.name not in STAGE_NAMES or service.name not in deployments:
            continue
        pod = deployments[service.name]["spec"]["template"]["metadata"]["labels"]
        if pod.get(COMPONENT) != "stage":
            problems.append(f"{service.name!r} is not labelled as a stage")
        peers = allowed_peers(docs, pod, service.port)
        if peers != {"gateway"}:
            problems.append(
                f"stage {service.name!r} is reachable from {sorted(peers)}, not only gateway"
            )
    return problems
