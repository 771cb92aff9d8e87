"""The crash tests use the integration suite's fixtures: one embedded broker for the session
(tests/conftest.py), and per test its own topics, data dir, postback receiver and roles."""

from tests.integration.conftest import codec, receiver, settings, start_role  # noqa: F401
