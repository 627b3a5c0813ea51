"""Watching the pipeline run: SLO figures from the event log (`slo`), Prometheus metrics
(`telemetry`) with per-stage health (`stage_health`), the live performance summary
(`performance`) and the HTTP server that exposes them (`http_server`)."""
