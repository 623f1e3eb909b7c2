"""The floor of a hop is a real round trip through the gateway's client to a real server pinned
like a stage, that leaves nothing behind; the self-checks refuse impossible round counts."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.selfcheck.perf.floor import BODY, FloorServer, round_trips
from stack.budget import sut_cpus
from stack.runner import port_free
from stack.topology import Budget
from tests.bench.conftest import ARCHBENCH
from tests.conftest import free_base_port, processes_on_ports


def test_the_floor_is_timed_through_the_gateway_client_to_a_pinned_server(tmp_path: Path) -> None:
    port = free_base_port(span=1)
    with FloorServer(port, Budget(), tmp_path / "floor.log") as server:
        assert server.process is not None
        assert psutil.Process(server.process.pid).cpu_affinity() == sut_cpus(Budget())
        sample = round_trips(server, [b'{"a":1}', b'{"b":[1,2]}'], warmup=5, requests=30)
        request = urllib.request.Request(
            f"{server.url}/ingest", b"{}", {"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == BODY
        cgroup = server.confinement.applied.mechanism == "cgroup-v1"
    assert sample.requests == 30 and 0 < sample.p50_ms <= sample.p99_ms
    # CPU per call (client and server) needs the server's cgroup; without one it says so.
    assert (sample.cpu_ms_per_request is not None) == cgroup
    assert cgroup is False or sample.cpu_ms_per_request and sample.cpu_ms_per_request > 0
    assert port_free(port) and not processes_on_ports({port})


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("perf", "--rounds", "0"), "--rounds must be 1 or more, not 0"),
        (("perf", "--wrk-seconds", "0"), "--wrk-seconds must be 1 or more"),
        (("loadperf", "--repeat", "0"), "--repeat must be 1 or more, not 0"),
    ],
)
def test_impossible_rounds_get_one_line(args: tuple[str, ...], expected: str) -> None:
    done = subprocess.run([*ARCHBENCH, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr
