"""`archbench perf`: the microservices' tax per hop at low load, against the monolith and against
the floor a bare hop reaches on this machine; the stacks' peaks under wrk; and the monolith's peak
against the in-process pipeline on the same single CPU; and what W3C tracing costs per hop
(each architecture also runs untraced in the same rounds).

Every side of every ratio is measured in the same short rounds, in alternating order, and each
ratio is the median of its per-round ratios with a bootstrap interval. The load comes from the
load generator's CPU (this process, and `wrk` under `taskset`); the stacks, the floor (server and
client) and the in-process run use the system-under-test CPU. Figures are printed, not asserted:
they depend on the machine. `result` holds what is measured and which stacks, `floor` the bare
hop, `runner` measures in rounds and is the entry, `report` prints it.
"""

from bench.selfcheck.perf.result import PerfConfig
from bench.selfcheck.perf.runner import main

__all__ = ["PerfConfig", "main"]
