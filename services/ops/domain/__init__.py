"""Pure domain of the ops service."""
