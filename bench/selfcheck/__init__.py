"""Checks of the harness itself: stage microbenchmark, hop tax (perf), load generator (loadperf)."""
