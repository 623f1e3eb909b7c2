"""Scaling out: replicas of a stage really share its traffic, monolith workers really serve, all of
it stops with the stack, and a compose file with explicit replicas agrees with the topology."""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from stack.compose import compose_file, disagreements, resolve
from stack.runner import Stack
from stack.topology import PORT_BLOCK, Budget, services, shares
from tests.conftest import free_base_port, processes_on_ports, request

COUNTER = re.compile(r'^archbench_requests_total\{route="/score",status="200"\} (\S+)$', re.M)


def scored(url: str) -> float:
    """How many /score requests a score replica has answered, from its own /metrics."""
    page = request(url, "/metrics", method="GET").body.decode()
    found = COUNTER.search(page)
    return float(found.group(1)) if found else 0.0


def test_every_score_replica_takes_its_turn_and_stops_with_the_stack(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    base = free_base_port(start=23000, span=2 * PORT_BLOCK)
    stack = Stack("micro", base, log_dir=tmp_path, replicas={"score": 2})
    replicas = [s for s in stack.services if s.args[0] == "score"]
    assert [s.name for s in replicas] == ["score", "score-2"]
    ports = {s.port for s in stack.services}
    with stack:
        pids = stack.pids()
        urls = {s.name: f"http://127.0.0.1:{s.port}" for s in replicas}
        before = {n: scored(u) for n, u in urls.items()}
        body = json.dumps(records[0]).encode()
        for _ in range(30):
            assert request(stack.url, "/predict", body).status == 200
        after = {n: scored(u) for n, u in urls.items()}
        # round robin: fifteen each
        assert {n: after[n] - before[n] for n in urls} == dict.fromkeys(urls, 15.0)
        ready = json.loads(request(stack.url, "/readyz", method="GET").body)
        assert ready["stages"]["score"] is True
        # a replica that goes away makes the stage (and the gateway) not ready
        stack.processes["score-2"].kill()
        stack.processes["score-2"].wait()
        assert request(stack.url, "/readyz", method="GET").status == 503
    assert not processes_on_ports(ports)
    assert not [p for p in pids.values() if psutil.pid_exists(p)]


def test_monolith_workers_all_serve_and_stop_with_the_stack(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    stack = Stack(
        "monolith", free_base_port(start=23000), log_dir=tmp_path, replicas={"monolith": 2}
    )
    assert stack.services[0].args == ("--port", str(stack.entry.port), "--workers", "2")
    with stack:
        supervisor = psutil.Process(stack.pids()["monolith"])
        workers = [
            p for p in supervisor.children() if "multiprocessing.spawn" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2
        family = [supervisor, *supervisor.children(recursive=True)]
        before = {w.pid: sum(w.cpu_times()[:2]) for w in workers}
        body = json.dumps({"records": records[:8]}).encode()

        def send(_: int) -> int:
            return request(stack.url, "/predict", body).status

        # concurrent connections, so that both workers are asked to accept
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, range(200))) == {200}
        used = {w.pid: sum(w.cpu_times()[:2]) - before[w.pid] for w in workers}
        # each served a share: ~3 ms of CPU per request, against a few 10 ms ticks at rest
        assert all(seconds > 0.05 for seconds in used.values()), used
    gone, alive = psutil.wait_procs(family, timeout=5)
    assert not alive
    assert not processes_on_ports({stack.entry.port})


def test_bad_replica_counts_name_what_is_valid() -> None:
    with pytest.raises(ValueError, match="cannot scale 'scorer' in micro; choose one of: ingest"):
        services("micro", replicas={"scorer": 2})
    with pytest.raises(ValueError, match="replicas of 'score' must be 1 or more, not 0"):
        services("micro", replicas={"score": 0})
    with pytest.raises(ValueError, match="choose one of: monolith"):
        services("monolith", replicas={"score": 2})


def _scaled_compose(config: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The micro compose file as a user scales `score` out with explicit replica services."""
    scaled = copy.deepcopy(config)
    stack = services("micro", host=lambda name: name, replicas={"score": replicas})
    split = shares("micro", Budget(), {"score": replicas})
    for service in stack:
        entry = scaled["services"].setdefault(
            service.name, copy.deepcopy(config["services"]["score"])
        )
        port = str(service.port)
        entry["command"] = ["python", "-m", service.module, *service.args]
        if not service.entry:
            entry["expose"] = [port]
            probe = entry["healthcheck"]["test"][-1]
            entry["healthcheck"]["test"][-1] = re.sub(
                r"/127[.]0[.]0[.]1/\d+", f"/127.0.0.1/{port}", probe
            )
        cpus, memory = split[service.name]
        entry["deploy"]["resources"]["limits"] = {"cpus": float(cpus), "memory": str(memory)}
    gateway = scaled["services"]["gateway"]
    gateway["environment"]["ARCHBENCH_SCORE_URL"] = stack[-1].env["ARCHBENCH_SCORE_URL"]
    for service in stack[:-1]:
        gateway["depends_on"][service.name] = {"condition": "service_healthy", "required": True}
    return scaled


def test_a_compose_file_with_explicit_replicas_agrees_with_the_topology(tmp_path: Path) -> None:
    config = resolve(compose_file("micro"))
    scaled = _scaled_compose(config, 4)  # eight services: 1/8 CPU each, exactly
    path = tmp_path / "docker-compose.micro-scaled.yml"
    path.write_text(json.dumps(scaled))  # YAML reads JSON
    again = resolve(path)  # Compose accepts it
    assert set(again["services"]) >= {"score-2", "score-3", "score-4"}
    assert again["services"]["gateway"]["environment"]["ARCHBENCH_SCORE_URL"] == (
        "http://score:8004,http://score-2:8014,http://score-3:8024,http://score-4:8034"
    )
    assert disagreements("micro", again, replicas={"score": 4}) == []
    # the unscaled topology does not know the replicas; the scaled one misses none
    assert "service 'score-2' is not in the topology" in disagreements("micro", again)
    assert disagreements("micro", config, replicas={"score": 4})
