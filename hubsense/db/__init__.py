"""Database access: migrations, connections and the schema every server component shares."""
