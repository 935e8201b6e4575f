"""Shared test setup: the private-server fixtures (pg_server, db_dsn, mqtt_broker, make_broker)."""

pytest_plugins = ["hubsense.devstack.pytest_plugin"]
