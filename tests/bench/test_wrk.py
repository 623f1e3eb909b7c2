"""wrk's report is read right, failures included, and its script POSTs every payload as JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.selfcheck import wrk

REPORT = """Running 10s test @ http://127.0.0.1:8800/predict
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    14.21ms    3.55ms  45.12ms   80.12%
    Req/Sec   563.40     40.12   640.00     70.00%
  Latency Distribution
     50%  850.00us
     75%   15.80ms
     90%   18.45ms
     99%    1.20s
  5616 requests in 10.01s, 1.05MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 12
Requests/sec:    561.12
Transfer/sec:    107.35KB
"""


def test_report_is_parsed_with_units_and_failures() -> None:
    peak = wrk.parse(["wrk"], REPORT)
    assert peak.requests == 5616
    assert peak.requests_per_s == pytest.approx(561.12)
    assert peak.p50_ms == pytest.approx(0.85)
    assert peak.p99_ms == pytest.approx(1200.0)
    assert peak.bad_responses == 15


def test_a_report_without_a_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        wrk.parse(["wrk"], "unable to connect to 127.0.0.1:8800 Connection refused")


def test_command_is_pinned_and_bounded_in_time() -> None:
    argv = wrk.command("http://127.0.0.1:8800/predict", Path("s.lua"), 10, 1, 8, [0])
    assert argv[:3] == ["taskset", "-c", "0"]
    assert "-d10s" in argv and "-c8" in argv and argv[-1].endswith("/predict")


def test_script_posts_each_payload_as_json() -> None:
    script = wrk.lua_script([b'{"a":1}', b'{"b":"x"}'])
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert '[==[{"a":1}]==]' in script and '[==[{"b":"x"}]==]' in script
