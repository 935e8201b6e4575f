"""The HTTP API, the hub pages and their live feed (`hubsense api`); see docs/api.md."""
