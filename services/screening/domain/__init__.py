"""The pure core of screening: the triage scales, inputs, rule vocabulary and the rule engine.

Nothing here does I/O or reads a clock: the caller passes the facts, the rule set, the
working-day deadline function and whether it is out of office hours.
"""
