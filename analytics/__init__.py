"""Analytics: the docs/metrics.md metrics from events and bookings, from files or from the database."""
