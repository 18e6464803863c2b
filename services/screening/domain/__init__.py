"""The pure core of screening: the triage scales, inputs, rule vocabulary and the rule engine,
the history a contact is triaged against, the deadlines, and the events screening announces.

Nothing here does I/O or reads a clock: the caller passes the facts, the rule set, the
working-day deadline function, whether it is out of office hours and the processing time.
"""
