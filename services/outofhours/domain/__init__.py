"""The pure rules of out of hours: shifts, what is a crisis, the night's record, the handover."""
