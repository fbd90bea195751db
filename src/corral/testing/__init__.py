"""Helpers for tests, benchmarks and demos: synthetic workloads that exercise a real server."""
