"""`archbench ui`: Locust's web UI drives a real stack, shows its resources, and leaves nothing."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.run.ui import main
from pipeline.paths import ROOT
from stack.runner import StackError, port_free
from stack.topology import services
from tests.conftest import free_base_port, processes_on_ports, request

REQUEST_NAMES = {"predict", "predict-batch", "validate"}


@contextmanager
def ui_process(
    arch: str, base_port: int, web_port: int, tmp_path: Path, workers: int = 0
) -> Iterator[subprocess.Popen[bytes]]:
    """`bench.run.ui.main` in a child process; stopped like Ctrl-C (or killed) if a test fails."""
    # A child started with SIGINT ignored (a background job) would keep ignoring Ctrl-C.
    code = (
        "import signal, sys; from pathlib import Path; from bench.run.ui import main; "
        "signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"main({arch!r}, {base_port}, {web_port}, Path(sys.argv[1]), workers={workers})"
    )
    with (tmp_path / "ui.out").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "logs")],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            # Ctrl-C first, so that the stack also removes its cgroups; SIGKILL would leave them
            # (its processes die with it all the same).
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def output(tmp_path: Path) -> str:
    return (tmp_path / "ui.out").read_text(errors="replace")


def wait_until(check: Callable[[], Any], what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}")


def get_json(web: str, path: str) -> Any:
    answer = request(web, path, method="GET", content_type=None)
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def swarm(web: str, shape: str, **options: object) -> None:
    form = urllib.parse.urlencode({"user_classes": "OpenLoopUser", "shape_class": shape, **options})
    answer = request(web, "/swarm", form.encode(), "application/x-www-form-urlencoded")
    assert answer.status == 200 and json.loads(answer.body)["success"], answer.body


def template_args(page: str) -> dict[str, Any]:
    """What the web UI's page hands its script (`window.templateArgs = {...}`)."""
    marker = "window.templateArgs = "
    start = page.index(marker) + len(marker)
    args, _ = json.JSONDecoder().raw_decode(page[start:])
    assert isinstance(args, dict)
    return args


def requests_by_name(stats: dict[str, Any]) -> dict[str, int]:
    return {s["name"]: s["num_requests"] for s in stats["stats"] if s["name"] != "Aggregated"}


def test_the_ui_drives_the_stack_shows_its_resources_and_leaves_nothing(tmp_path: Path) -> None:
    arch = "micro"
    base_port = free_base_port()
    web_port = free_base_port(span=1)
    web = f"http://127.0.0.1:{web_port}"
    names = {s.name for s in services(arch, base_port)}
    with ui_process(arch, base_port, web_port, tmp_path) as proc:

        def announced() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"the UI exited with code {proc.returncode}:\n{output(tmp_path)}")
            return f"Locust UI at {web}" in output(tmp_path)

        wait_until(announced, "the UI's line", 90)
        assert f"http://127.0.0.1:{base_port}" in output(tmp_path)
        page = template_args(request(web, "/", method="GET", content_type=None).body.decode())
        assert page["extendedTabs"] == [{"key": "resources", "title": "Resources"}]
        assert page["extendedTables"][0]["key"] == "resources"
        assert page["available_shape_classes"] == ["Default", "Capacity", "Ramp", "Spike", "Steady"]

        # A short Steady run that ends by itself: a second run must not be cut short by it.
        swarm(web, "Steady", rate=20, duration=2, warmup=0)
        wait_until(lambda: get_json(web, "/stats/requests")["state"] == "stopped", "the end", 20)
        swarm(web, "Steady", rate=20, duration=60, warmup=0)

        def running_with_every_name() -> dict[str, Any] | None:
            stats = get_json(web, "/stats/requests")
            counts = requests_by_name(stats)
            running = stats["state"] == "running"
            return stats if running and all(counts.get(n) for n in REQUEST_NAMES) else None

        stats = wait_until(running_with_every_name, "requests of every name in a second run", 20)
        assert stats["stats"][-1]["num_failures"] == 0, stats["errors"]

        time.sleep(1.5)  # a sample or two under load
        rows = get_json(web, "/resources")["rows"]
        assert {r["name"] for r in rows} == names
        for row in rows:
            assert row["status"] == "running" and psutil.pid_exists(row["pid"]), row
            assert isinstance(row["cpu_percent"], float) and row["cpu_percent"] >= 0, row
            assert 20 < row["rss_mib"] < 2048, row
        assert sum(r["cpu_percent"] for r in rows) > 0, rows
        # the tab's table reads the rows carried by the periodic stats request
        tab = get_json(web, "/stats/requests")["extended_stats"]
        assert [t["key"] for t in tab] == ["resources"]
        assert {r["name"] for r in tab[0]["data"]} == names

        answer = request(web, "/stop", b"", None)
        assert answer.status == 200
        wait_until(lambda: get_json(web, "/stats/requests")["state"] == "stopped", "stop", 10)

        family = psutil.Process(proc.pid).children(recursive=True)
        assert len(family) >= len(names) + 1  # the services and Locust

        # A service that dies shows as stopped; the UI says so and keeps running.
        score = next(r["pid"] for r in rows if r["name"] == "score")
        psutil.Process(score).kill()
        expected = {n: "stopped" if n == "score" else "running" for n in names}

        def statuses() -> dict[str, str]:
            return {r["name"]: r["status"] for r in get_json(web, "/resources")["rows"]}

        wait_until(lambda: statuses() == expected, "score shown as stopped", 10)
        wait_until(lambda: "service 'score' exited with code -9" in output(tmp_path), "line", 5)
        assert proc.poll() is None

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
        assert proc.returncode == 0, output(tmp_path)
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive
    ports = {base_port + i for i in range(len(names))}
    assert not processes_on_ports(ports)
    assert all(port_free(p) for p in (*ports, web_port))


def test_a_busy_web_port_is_one_clear_line() -> None:
    base_port = free_base_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StackError) as error:
            main("monolith", base_port, port)
    assert str(error.value) == f"web port {port} is already in use; choose another with --web-port"
    assert port_free(base_port)


def test_a_web_port_inside_the_stack_is_refused() -> None:
    base_port = free_base_port()
    with pytest.raises(StackError, match=f"web port {base_port + 2} is also the port of service"):
        main("micro", base_port, base_port + 2)
