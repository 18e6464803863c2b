"""Versioned triage rule sets as TOML data (one file per edition), shipped as package data."""
