"""hubsense: occupancy sensing and edge analytics for offices and co-working hubs.

This root package holds what every component shares: the MQTT wire contract
(`hubsense.wire`), the inventory model (`hubsense.inventory.model`), settings, errors,
logging and the CLI root. It imports nothing from the components.
"""

__version__ = "0.1.0"
