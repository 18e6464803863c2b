"""frontdoor outofhours service."""
