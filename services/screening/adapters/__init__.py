"""Screening's adapters: the outside world (files, database, broker) behind small functions."""
