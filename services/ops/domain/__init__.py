"""Pure domain of the ops service: Burrow status, time lag, throughput, lag board, boards."""
