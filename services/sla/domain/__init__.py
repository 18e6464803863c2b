"""Pure SLA domain: policies (data), deadlines, triggers, timers and their transitions.

Nothing here reads a clock, generates a random id or does I/O; the working-day calendar, the
moments and the policy are passed in.
"""
