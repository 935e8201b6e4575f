"""The edge agent that runs on each Raspberry Pi: sensors, desk state machine, durable outbox, MQTT.

Imports only the contract (`hubsense.wire`, `hubsense.inventory`); never ingest, analytics,
psycopg or numba (SPEC §3).
"""
