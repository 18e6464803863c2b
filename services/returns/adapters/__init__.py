"""Adapters of the returns service: reading the event history from PostgreSQL."""
