"""Pure SLA domain: policies (data), deadlines, triggers, timers and their transitions, one child's
clocks through a batch (`clocks`), what a batch writes and announces (`batch`), the ``sla.*``
announcements and their ids (`announcements`), and what the scanner decides for an owed clock
(`breaches`).

Nothing here reads a clock, generates a random id or does I/O; the working-day calendar, the
moments and the policy are passed in.
"""
