"""The SLA service: every statutory clock (timer) for every child, started, met and cancelled from
lifecycle events under a versioned policy, warned about and breached on time.

`domain/` holds the pure parts: policies as data, the timer and its transitions, and the decision
of what one event does to a child's clocks. `policies/` holds the shipped policy files and their
loader. Handlers, adapters and agents (PostgreSQL rows, the leader-only breach loop, Kafka) wire
these to the outside world.
"""
