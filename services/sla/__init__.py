"""The SLA service: every statutory clock (timer) for every child, started, met and cancelled from
lifecycle events under a versioned policy, warned about and breached on time.

`domain/` holds the pure parts: policies as data, the timer and its transitions, the decision of
what one event does to a child's clocks, what a batch writes and announces, and what the scanner
decides for an owed clock. `policies/` holds the shipped policy files and their loader.
`handlers.py` holds the two use cases — the lifecycle batch and the leader-only breach scan —
over the protocols in `ports.py`; `adapters/` implements those on PostgreSQL and Kafka;
`bootstrap.py` declares the subscriptions (one per lifecycle topic) and the scanner task for the
shared pipeline.
"""
