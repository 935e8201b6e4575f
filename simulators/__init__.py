"""Simulated people, sensors and nodes that speak the real wire contract.

Pure core (no clock, no I/O; randomness seeded from (seed, date)):
`people` (who goes where, when they sit),
`bookings`, `world` (plans → sensor changes with PIR hold, node outages), `node`
(a virtual edge agent's event stream), `messages` (payloads). I/O: `publisher`
(the only paho user), `fleet` (backfill and live against a broker; `backfill()`
and `run_live()` for the demo), `csv_export`, `run` (what the CLI does; `publish()`
and `export_csv()`), `cli` (`hubsense simulate`).

This package must stay importable without paho for the CLI's `--help`: nothing
here imports paho, psycopg or rich at package level.
"""
