"""Pure domain of the conferences service."""
