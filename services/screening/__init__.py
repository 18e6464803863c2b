"""Screening: triage of contacts and police domestic-abuse notifications at the front door.

The service reads ``frontdoor.contacts`` and, for every contact and DA notification, publishes a
triage result (priority, the reasons in words a social worker reads, the screening deadline and
the route) on ``frontdoor.casework``. The rules live as versioned data in ``rules/``; the pure
rule engine lives in ``domain/``. A human screening decision, not the triage, closes screening.
"""
