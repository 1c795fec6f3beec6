"""Data-access functions, one module per concept.

Functions here take and return peewee rows (or plain values) and each write is
one transaction. The interface layer turns their results into datatypes and
decides what callers may see.
"""
