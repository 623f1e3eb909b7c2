"""The load harness: drives the served architectures from the load generator's CPU and measures."""
