"""Adapters of the conferences service: PostgreSQL store, row mapping, read views, rules files."""
