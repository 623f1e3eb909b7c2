"""Drive a URL with `wrk` (closed loop, pinned to given CPUs) and read its report."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True)
class Peak:
    """A closed-loop `wrk` run: completed requests per second and latency percentiles."""

    command: list[str]
    requests: int
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    bad_responses: int  # non-2xx answers plus socket errors


def lua_script(payloads: Sequence[bytes]) -> str:
    """A wrk script POSTing the JSON payloads in turn (one Lua state per wrk thread)."""
    literals = ",\n".join(f"  [==[{p.decode()}]==]" for p in payloads)
    return (
        f"local bodies = {{\n{literals}\n}}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n"
        "  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\n"
        "end\n"
    )


def command(
    url: str, script: Path, seconds: int, threads: int, connections: int, cpus: Sequence[int]
) -> list[str]:
    """The wrk command line, pinned with taskset; -d bounds its run time."""
    return [
        *("taskset", "-c", ",".join(map(str, cpus))),
        *("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"),
        *("-s", str(script), url),
    ]


def run(argv: list[str], seconds: int) -> Peak:
    """Run a wrk command line and parse its report."""
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 30)
    return parse(argv, done.stdout)


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def parse(argv: list[str], output: str) -> Peak:
    """Read requests/s, the 50th and 99th percentiles and failures from wrk's --latency report."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    if rate is None or count is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.MULTILINE))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket is not None:
        bad += sum(int(n) for n in socket.groups())
    return Peak(
        argv,
        int(count.group(1)),
        float(rate.group(1)),
        _ms(percentiles["50"]) if "50" in percentiles else None,
        _ms(percentiles["99"]) if "99" in percentiles else None,
        bad,
    )
