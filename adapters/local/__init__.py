"""Embedded stand-ins that need no server: SQLite FTS5 search, filesystem blob store, logging events."""
