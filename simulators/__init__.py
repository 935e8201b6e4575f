"""Simulated people, sensors and nodes that speak the real wire contract."""
