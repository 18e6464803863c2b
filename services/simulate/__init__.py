"""``frontdoor simulate``: a realistic, seeded synthetic feed of partner events."""
