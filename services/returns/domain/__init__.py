"""Pure domain of the returns service."""
