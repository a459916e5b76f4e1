"""Metrics, latency statistics and structured logs."""
