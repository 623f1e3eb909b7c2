"""One service's CPU time and memory read from its Prometheus /metrics page, for stacks the
harness did not start: the figures process_figures gives for a local process, as far as the page
tells them (resident memory, no proportional share).

The page is that of the process answering it (prometheus_client's process collector): for a
service of several worker processes, the one that answered.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_S = 1.0
# Sample name on the page -> key of the figures (bench.measure.process's names).
_WANTED = {
    "process_cpu_seconds_total": "cpu_s",
    "process_resident_memory_bytes": "rss_bytes",
    "process_start_time_seconds": "start_unix",
}


def parse(text: str) -> dict[str, float | None]:
    """CPU seconds, resident bytes and start time from a metrics page; pss_bytes is not there."""
    figures: dict[str, float | None] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = _WANTED.get(sample.name)
            if key is not None and not sample.labels:
                figures[key] = float(sample.value)
    if "cpu_s" not in figures or "rss_bytes" not in figures:
        return {}
    return {**figures, "pss_bytes": None}


def scrape(url: str, timeout_s: float = SCRAPE_TIMEOUT_S) -> dict[str, float | None] | None:
    """The service's figures now, or None when its page does not answer or lacks them."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None
    try:
        return parse(text) or None
    except ValueError:  # not a Prometheus text page
        return None
