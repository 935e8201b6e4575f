"""Edge adapters: gpiozero, bleak/bthome-ble, SQLite and paho-mqtt, one module each."""
