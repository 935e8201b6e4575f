"""Analytics: the SPEC §6 metrics from events and bookings, from files or from the database."""
