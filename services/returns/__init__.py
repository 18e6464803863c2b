"""frontdoor returns service."""
