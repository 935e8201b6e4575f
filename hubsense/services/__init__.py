"""Private PostgreSQL and Mosquitto for development, tests and the demo (`hubsense services`)."""
