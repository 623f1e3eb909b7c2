"""Prometheus metrics every process exposes at GET /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter(
    "archbench_requests", "Requests served, by route and status", ["route", "status"]
)
LATENCY = Histogram(
    "archbench_request_duration_seconds",
    "Time to serve a request, by route",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0),
)

_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}


def observe(route: str, status: int, seconds: float) -> None:
    """Count one served request."""
    key = (route, status)
    children = _children.get(key)
    if children is None:
        # labels() builds and locks on every call; a (route, status) pair always maps to the
        # same children, so look them up once.
        children = _children[key] = (REQUESTS.labels(route, str(status)), LATENCY.labels(route))
    children[0].inc()
    children[1].observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
