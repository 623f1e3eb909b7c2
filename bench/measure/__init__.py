"""What is measured while load runs: exact latencies, resources, and contention on the CPUs."""
