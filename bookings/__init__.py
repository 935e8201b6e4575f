"""Bookings: the real-time release rule (pure), its watcher and its announcements (docs/api.md)."""
