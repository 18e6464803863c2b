"""The SLA service's adapters: PostgreSQL behind the handler's and the scanner's ports."""
