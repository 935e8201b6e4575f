"""Pure edge logic: the desk state machine and the outbox rules. No I/O, no clock reads."""
