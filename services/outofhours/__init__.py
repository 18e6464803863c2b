"""Out of hours: the crisis stream the emergency duty team watches, and its handover by 09:00.

The service reads ``frontdoor.casework`` and raises ``crisis.raised`` on ``frontdoor.crisis`` for
what cannot wait (police protection, missing children, strategy discussions and s47 enquiries out
of hours, day teams' alerts; screening raises red triage out of hours itself). It keeps the
night's record — every crisis item, acknowledgement and action per shift (17:00 to 09:00 the next
working day) — which ``frontdoor ooh watch`` shows live and ``frontdoor ooh handover`` hands to the
day team as ``ooh.handover_published``; the day team's ``ooh.handover_acknowledged`` meets the
handover's 09:00 clock.
"""
