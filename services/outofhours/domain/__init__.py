"""Pure domain of the outofhours service."""
