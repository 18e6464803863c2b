"""Adapters of the conferences service: PostgreSQL unit of work, row mapping, read views."""
