"""CPU per request and memory per service, derived from constructed samples."""

from __future__ import annotations

import pytest

from bench.measure.resources import derive


def rows() -> list[dict[str, object]]:
    """Ten seconds at 2 Hz: the stack uses 0.5 CPU (gateway 0.2, score 0.3), generator 0.1."""
    out = []
    for i in range(21):
        t = 100.0 + i * 0.5
        out.append(
            {
                "t_unix": t,
                "cgroup_cpu_ns": int(0.5 * (t - 100) * 1e9),
                "cgroup_memory_bytes": 300_000_000 + i,
                "services": {
                    "gateway": {"cpu_s": 0.2 * (t - 100), "rss_bytes": 60e6, "pss_bytes": 50e6},
                    "score": {"cpu_s": 0.3 * (t - 100), "rss_bytes": 190e6 + i, "pss_bytes": 150e6},
                },
                "generator_cpu_s": 0.1 * (t - 100),
                "harness_cpu_s": 0.02 * (t - 100),
                # something else takes 8% of the SUT CPU; nothing else runs on the generator's
                "sut_cpu_busy_s": 0.58 * (t - 100),
                "generator_cpu_busy_s": 0.12 * (t - 100),
            }
        )
    return out


def test_cpu_per_request_over_the_window() -> None:
    # 400 requests between t=102.25 and t=106.25 (4 s, 2 s of stack CPU): 5 ms each
    figures = derive(rows(), 102.25, 106.25, 400)
    assert figures["cpu_ms_per_request"] == pytest.approx(5.0)
    assert figures["cpu_source"] == "cgroup"
    assert figures["stack_cpu_share"] == pytest.approx(0.5)
    assert figures["services"]["gateway"]["cpu_ms_per_request"] == pytest.approx(2.0)
    assert figures["services"]["score"]["cpu_share"] == pytest.approx(0.3)
    assert figures["generator_cpu_share"] == pytest.approx(0.1)
    assert figures["sut_foreign_share"] == pytest.approx(0.08)
    assert figures["generator_foreign_share"] == pytest.approx(0.0, abs=1e-9)


def test_memory_per_service() -> None:
    figures = derive(rows(), 101.0, 104.0, 10)
    assert figures["services"]["score"]["rss_bytes_max"] == 190e6 + 8
    assert figures["services"]["gateway"]["pss_bytes_mean"] == 50e6
    assert figures["pss_bytes_total"] == 200e6
    assert figures["cgroup_memory_bytes_max"] == 300_000_008


def test_without_a_cgroup_the_processes_add_up() -> None:
    plain = [{**r, "cgroup_cpu_ns": None, "cgroup_memory_bytes": None} for r in rows()]
    figures = derive(plain, 102.0, 106.0, 400)
    assert figures["cpu_source"] == "processes"
    assert figures["cpu_ms_per_request"] == pytest.approx(5.0)


def test_a_window_outside_the_samples_gives_no_cpu_figure() -> None:
    assert derive(rows(), 90.0, 104.0, 100)["cpu_ms_per_request"] is None
