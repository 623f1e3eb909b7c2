"""`archbench loadperf`: the load generator's own costs against its targets — CPU per request,
what exact-latency capture costs, and its saturation throughput next to wrk's on the same stack.
Each comparison's sides take turns (cost runs in ABBA pairs, Locust and wrk in alternating
rounds) and is printed as the median of its per-pair ratios with a bootstrap interval.

Locust and wrk run on the load generator's CPU, the stacks on the system-under-test CPU inside
the default budget. Figures are printed, not asserted: they depend on the machine. `result` holds
what is measured, `locust_runs` runs Locust for it, `runner` runs the phases and is the entry,
`report` judges and prints.
"""

from bench.selfcheck.loadperf.result import LoadPerfConfig, LoadPerfError
from bench.selfcheck.loadperf.runner import main

__all__ = ["LoadPerfConfig", "LoadPerfError", "main"]
