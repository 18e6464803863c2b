"""frontdoor conferences service."""
