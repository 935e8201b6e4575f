"""The whole stack on one machine: private PostgreSQL and Mosquitto, the demo, the pytest plugin.

The roof of the house (it may import any component): `hubsense services up|down|status`,
`hubsense demo`, and the fixtures the tests start their servers with. Where a command finds
its servers is the contract's business (`hubsense.addresses`), not this package's.
"""
