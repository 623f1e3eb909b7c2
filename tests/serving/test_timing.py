"""Server-Timing values survive a round trip, and junk entries are skipped, not fatal."""

from serving import timing


def test_round_trip() -> None:
    value = timing.header([("ingest", 0.0123), ("ingest-hop", 0.25)])
    assert value == "ingest;dur=0.012, ingest-hop;dur=0.250"
    assert timing.parse(value) == {"ingest": 0.012, "ingest-hop": 0.25}


def test_junk_is_skipped() -> None:
    assert timing.parse('a;desc="x", b;dur=oops, c;dur=1.5') == {"c": 1.5}
    assert timing.parse(None) == {}
