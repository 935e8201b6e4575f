"""Test support shared by the test folders: waiting, database reads, MQTT clients, ingest
runs and a TCP relay.

One copy each instead of one per folder. A package (not conftest, not `*_helpers`) so
`from support.waiting import wait_for` resolves the same from every folder: pytest puts
`tests/` on sys.path for the root conftest. No test modules live here.
"""
