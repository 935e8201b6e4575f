"""Ingest: subscribe to MQTT, decode and validate, batch, write to PostgreSQL with binary COPY."""
