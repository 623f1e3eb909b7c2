"""Stacks the harness did not start: the load generator in one network namespace, real stacks in
another, joined by a veth pair, so the stacks are reached by address as a remote host's are;
and the one-line answers to wrong targets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.measure.scrape import parse
from pipeline.paths import ROOT
from stack.targets import TargetError, from_file
from stack.topology import services
from tests.conftest import free_base_port

ARCHBENCH = [sys.executable, "-m", "archbench"]
BENCH_TIMEOUT_S = 240
# Both stacks inside the stack's namespace, which has nothing else bound.
PORTS = {"monolith": 8000, "micro": 8100}
# Forwarded admin listeners sit this far above their own ports (in the stack's namespace).
FORWARD_OFFSET = 1000
# Starts a real stack (the local runner) bound to every address of its namespace, with each admin
# listener (loopback only, by design) forwarded to every address as `kubectl port-forward` would;
# prints its admin token, and stops it all when its stdin closes (or it is killed: the services
# die with it, PR_SET_PDEATHSIG).
STACK_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, threading
    from pathlib import Path
    from stack.runner import Stack, terminate_as_interrupt
    arch, port, model, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    offset = int(sys.argv[5])
    stack = Stack(arch, port, log_dir=logs, settings={"host": "0.0.0.0", "model_dir": model})

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    def forward(loop, listen, to):
        async def handle(reader, writer):
            to_reader, to_writer = await asyncio.open_connection("127.0.0.1", to)
            await asyncio.gather(pipe(reader, to_writer), pipe(to_reader, writer))
        return asyncio.run_coroutine_threadsafe(
            asyncio.start_server(handle, "0.0.0.0", listen), loop
        ).result(timeout=10)

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    with terminate_as_interrupt():
        stack.start()
        try:
            for service in stack.services:
                forward(loop, service.admin_port + offset, service.admin_port)
            print(stack.admin_token, flush=True)
            sys.stdin.read()
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop()
    """
)


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def shape(value: Any) -> Any:
    """The keys of nested objects (what a figure's shape is), values left out."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def namespaces() -> Iterator[tuple[str, str, str]]:
    """(generator namespace, stack namespace, the stack's address), removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is missing")
    pid = os.getpid()
    gen, sut = f"abgen{pid}", f"absut{pid}"
    # Private to this pair of namespaces; the names above keep parallel runs apart.
    subnet = f"10.213.{pid % 250}"
    try:
        ip("netns", "add", gen)
        ip("netns", "add", sut)
        ip("link", "add", f"abg{pid}", "type", "veth", "peer", "name", f"abs{pid}")
        ip("link", "set", f"abg{pid}", "netns", gen)
        ip("link", "set", f"abs{pid}", "netns", sut)
        for ns, dev, host in ((gen, f"abg{pid}", 1), (sut, f"abs{pid}", 2)):
            ip("-n", ns, "addr", "add", f"{subnet}.{host}/30", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield gen, sut, f"{subnet}.2"
    finally:
        for ns in (gen, sut):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def remote_stacks(
    namespaces: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory, model_dir: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A monolith and a microservices stack running in the stack's namespace: their address,
    and each one's admin token."""
    _, sut, address = namespaces
    logs = tmp_path_factory.mktemp("remote-logs")
    started: list[subprocess.Popen[str]] = []
    tokens = {}
    try:
        for arch, port in PORTS.items():
            process = subprocess.Popen(
                ["ip", "netns", "exec", sut, sys.executable, "-c", STACK_SCRIPT, arch, str(port)]
                + [str(model_dir), str(logs / arch), str(FORWARD_OFFSET)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            started.append(process)
            assert process.stdout is not None
            line = process.stdout.readline()  # bounded: the runner gives up after 60 s
            assert line.strip(), f"{arch} did not start; logs in {logs / arch}"
            tokens[arch] = line.strip()
        yield address, tokens
    finally:
        for process in started:
            if process.stdin:
                process.stdin.close()
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            if process.stdout:
                process.stdout.close()


def micro_targets(path: Path, address: str, token: str | None = None) -> Path:
    """A targets file naming the microservices' entry and every service's /metrics (with a
    token: and its forwarded admin listener)."""
    lines = ["[micro]", f'url = "http://{address}:{PORTS["micro"]}"']
    lines += [f'admin_token = "{token}"'] if token else []
    for service in services("micro", PORTS["micro"]):
        lines += [f"[micro.services.{service.name}]"]
        lines += [f'metrics = "http://{address}:{service.port}/metrics"']
        if token:
            lines += [f'admin = "http://{address}:{service.admin_port + FORWARD_OFFSET}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def bench(results: Path, *flags: str, netns: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run(
        [*prefix, *ARCHBENCH, "bench", "--quick", "--results-dir", str(results), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_S,
    )


STEADY = ("--scenario", "steady", "--duration", "2", "--rate", "20", "--repeat", "1")


@pytest.fixture(scope="module")
def remote_run(
    namespaces: tuple[str, str, str],
    remote_stacks: tuple[str, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A steady run of both remote stacks, driven from the generator's namespace."""
    gen, (address, _) = namespaces[0], remote_stacks
    results = tmp_path_factory.mktemp("remote-results")
    targets = micro_targets(results / "targets.toml", address)
    flags = ["--targets", str(targets), *STEADY, "--label", "remote"]
    monolith = ["--target", f"monolith=http://{address}:{PORTS['monolith']}"]
    done = bench(results / "micro", *flags, netns=gen)
    assert done.returncode == 0, done.stderr
    done = bench(results / "monolith", *monolith, *STEADY, "--label", "remote", netns=gen)
    assert done.returncode == 0, done.stderr
    return results


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same steady run on stacks the harness starts itself, on loopback."""
    results = tmp_path_factory.mktemp("local-results")
    port = str(free_base_port())
    done = bench(results, "--arch", "monolith,micro", "--port", port, *STEADY, "--label", "local")
    assert done.returncode == 0, done.stderr
    return results / "latest"


def test_meta_and_report_name_the_remote_backend_and_targets(remote_run: Path) -> None:
    meta = read(remote_run / "micro" / "latest" / "meta.json")
    backend = meta["backend"]
    assert backend["backend"] == "remote"
    assert [t["arch"] for t in backend["targets"]] == ["micro"]
    assert backend["targets"][0]["services"]["score"]["metrics_url"].endswith(":8104/metrics")
    assert any("fault isolation" in gap for gap in backend["not_measured"])
    # The far side's CPUs and serving settings are its own: not recorded as if they were ours.
    assert meta["cpus"]["sut"] is None and meta["serving"] is None
    report = (remote_run / "micro" / "latest" / "report.md").read_text()
    assert "remote targets the harness did not start: micro at http://10.213." in report
    assert "Not measured:" in report


def test_resources_come_from_each_services_metrics(remote_run: Path) -> None:
    summary = read(remote_run / "micro" / "latest" / "summary.json")
    run = summary["runs"]["steady/micro/rep0"]
    used = run["resources"]
    assert used["cpu_source"] == "metrics"
    assert set(used["services"]) == {s.name for s in services("micro")}
    for name, figures in used["services"].items():
        assert figures["cpu_ms_per_request"] > 0, name
        assert figures["rss_bytes_max"] > 10 * 2**20, name
        assert figures["pss_bytes_mean"] is None, name  # not on a /metrics page
    total = sum(f["cpu_ms_per_request"] for f in used["services"].values())
    assert used["cpu_ms_per_request"] == pytest.approx(total)
    # What only this machine's kernel could tell of the far side is not measured, not zero.
    assert used["sut_foreign_share"] is None
    assert used["cgroup_memory_bytes_max"] is None
    assert run["budget"] is None


def test_an_entry_point_alone_measures_only_what_it_can(remote_run: Path) -> None:
    summary = read(remote_run / "monolith" / "latest" / "summary.json")
    used = summary["runs"]["steady/monolith/rep0"]["resources"]
    # The monolith is its entry point: the whole stack is measured from its page.
    assert set(used["services"]) == {"monolith"}
    assert used["cpu_ms_per_request"] == used["services"]["monolith"]["cpu_ms_per_request"] > 0


def test_a_remote_run_has_the_shapes_of_a_local_one(remote_run: Path, local_run: Path) -> None:
    remote = read(remote_run / "micro" / "latest" / "summary.json")["runs"]["steady/micro/rep0"]
    local = read(local_run / "summary.json")["runs"]["steady/micro/rep0"]
    # The budget is the one figure a remote run cannot have: None in place of its object.
    local.pop("budget"), remote.pop("budget")
    assert shape(remote) == shape(local)
    rows = read(
        remote_run / "micro" / "latest" / "raw" / "steady" / "micro" / "rep0" / "samples.json"
    )
    local_rows = read(local_run / "raw" / "steady" / "micro" / "rep0" / "samples.json")
    assert set(rows[-1]["services"]) == set(local_rows[-1]["services"])


def test_with_admin_urls_and_token_a_slow_stage_is_injected_and_measured(
    namespaces: tuple[str, str, str],
    remote_stacks: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    (address, tokens), gen = remote_stacks, namespaces[0]
    targets = micro_targets(tmp_path / "targets.toml", address, tokens["micro"])
    flags = ["--targets", str(targets), "--scenario", "faults", "--rate", "20"]
    done = bench(tmp_path / "results", *flags, "--fault-s", "2", netns=gen)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "results" / "latest"
    # The profile's crash needs a process here: left out, and said so; the slowdown ran.
    assert "faults crash: not measured (no process to signal)" in done.stderr
    events = read(run / "raw" / "faults" / "micro" / "slow-score-plain" / "rep0" / "events.json")
    assert events["error"] is None
    assert [e["event"] for e in events["events"]] == ["start", "end"]
    # The token reaches the stack, never the run folder.
    assert tokens["micro"] not in (run / "meta.json").read_text()
    assert read(run / "meta.json")["backend"]["targets"][0]["admin_token"] == "given"
    (entry,) = read(run / "summary.json")["faults"]
    assert (entry["fault"], entry["stage"]) == ("slow", "score")
    # The slowdown reached the far stage through its admin listener: predictions during it
    # waited 3 s more, or the gateway gave up on them.
    predict = entry["endpoints"]["predict"]
    assert predict["success_rate_during_fault"] < 1 or predict["p99_during_fault_ms"] > 1000


def test_a_yaml_targets_file_keeps_its_token_out_of_what_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "micro:\n  url: http://10.0.0.6:8000\n  admin_token: s3cret\n  services:\n"
        "    score:\n      metrics: http://10.0.0.7:8004/metrics\n"
        "      admin: http://127.0.0.1:9104\n"
    )
    (target,) = from_file(path)
    assert target.faults_reachable
    assert "s3cret" not in json.dumps(target.public())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[micro]\nurl = "http://h:1"\n[micro.services.scor]\nmetrics = "http://h:2"\n',
            "no service 'scor'",
        ),
        ("[macro]\nurl = 'http://h:1'\n", "unknown architecture 'macro'"),
        ("[micro]\nport = 1\n", "needs url"),
        ("[micro\n", "not valid TOML"),
    ],
)
def test_a_bad_targets_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "targets.toml"
    path.write_text(text)
    with pytest.raises(TargetError, match=expected):
        from_file(path)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--target", "micro"], "--target takes ARCH=URL"),
        (
            ["--target", "micro=http://127.0.0.1:1"],
            "target micro at http://127.0.0.1:1/readyz: unreachable",
        ),
        (
            ["--target", "micro=http://127.0.0.1:1", "--fault", "crash", "--scenario", "faults"],
            "choose from: slow, errors",
        ),
        (
            ["--target", "micro=http://127.0.0.1:1", "--arch", "monolith"],
            "no --target for 'monolith'",
        ),
        (["--targets", "/nonexistent.toml"], "cannot be read"),
    ],
)
def test_wrong_targets_get_one_line(tmp_path: Path, flags: list[str], expected: str) -> None:
    done = bench(tmp_path, *flags)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and expected in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())  # nothing written for a mistake


def test_a_metrics_page_gives_cpu_and_resident_memory() -> None:
    page = (
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\n"
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1.5e+08\n"
    )
    assert parse(page) == {"cpu_s": 12.5, "rss_bytes": 1.5e8, "pss_bytes": None}
    assert parse("# TYPE other gauge\nother 1\n") == {}
