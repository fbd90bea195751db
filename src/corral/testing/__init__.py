"""Stand-ins for the outside world and synthetic workloads, for tests, benchmarks and demos."""
