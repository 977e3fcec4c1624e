"""Observability: the request log, Prometheus metrics and error reporting (Sentry)."""
