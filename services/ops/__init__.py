"""frontdoor ops: the dashboard, ``/metrics`` and ``frontdoor lag`` — consumer lag in offsets and
seconds with a Burrow-style status per group, throughput per topic, dead letters and the SLA board.
"""
