"""frontdoor ops service."""
