"""The ops service's adapters: the broker (lag, publish times) and PostgreSQL (boards)."""
