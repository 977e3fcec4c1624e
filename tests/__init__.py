"""Test suite: unit (embedded stand-ins), integration (real servers), e2e (uwsgi over HTTP)."""
