"""Watching Dockyard run: `health` (is every part answering: /healthz) and
`metrics` (what it is doing, in the Prometheus text format: /metrics)."""
