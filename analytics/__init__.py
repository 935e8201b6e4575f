"""Analytics: the metrics of docs/metrics.md from events and bookings, files or the database."""
