"""Figures derived from a run folder: per-run summaries, isolation, cost, capacity, verdicts."""
