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


def observe(route: str, status: int, seconds: float) -> None:
    """Count one served request."""
    REQUESTS.labels(route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
