"""One process family's CPU time and memory, read with psutil alone: light enough for the Locust
process of `archbench ui`, which must not import the stack runner."""

from __future__ import annotations

import psutil

# How `archbench ui` tells its Locust process the stack's pids (a JSON object name -> pid).
STACK_PIDS_ENV = "ARCHBENCH_STACK_PIDS"


def process_figures(pid: int) -> dict[str, float] | None:
    """CPU seconds and memory of a process and its children (gunicorn's worker, say)."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
        cpu = rss = pss = 0.0
        for proc in family:
            times = proc.cpu_times()
            cpu += times.user + times.system
            memory = proc.memory_full_info()
            rss += memory.rss
            pss += getattr(memory, "pss", memory.rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return {"cpu_s": cpu, "rss_bytes": rss, "pss_bytes": pss}
