"""`archbench bench --secure-hops` end to end (the session's `own_secured_run`, on another
bundle than the demo's: tests/bench/conftest.py): the switch is recorded, the secured micro serves
the load without errors, and the verdict counts its hops as not plain."""

from __future__ import annotations

import json
from pathlib import Path

from bench.analyse import verdict
from bench.store.stored import open_run
from tests.bundles import Made


def test_a_bench_with_secured_hops(own_secured_run: tuple[Path, Made]) -> None:
    folder, _ = own_secured_run
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["config"]["secure_hops"] is True
    assert "secure_hops" not in meta["serving"] and "tls_ca_file" not in meta["serving"]
    run = open_run(folder)
    ((_, steady),) = run.runs("steady", "micro")
    measured = steady["measured"]["all"]
    assert measured["ok"] > 0 and measured["failed"] == 0
    # the gateway timed every hop (over TLS) as it does without the switch
    assert set(steady["stage_ms"]["predict"]) >= {"score", "score-hop"}
    surface = next(v for v in verdict.judge(run) if v.claim.startswith("Network communication"))
    assert any(e.startswith("secured hops (--secure-hops)") for e in surface.evidence)
