"""`archbench perf`: the microservices' tax per hop at low load, and the monolith's peak throughput
against the in-process pipeline on the same single CPU.

The load comes from the load generator's CPU (this process, and `wrk` under `taskset`); the stacks
and the in-process run use the system-under-test CPU. Figures are printed, not asserted: they
depend on the machine. `result` holds what is measured, `runner` measures it and is the entry,
`report` prints it.
"""

from bench.selfcheck.perf.result import PerfConfig
from bench.selfcheck.perf.runner import main

__all__ = ["PerfConfig", "main"]
