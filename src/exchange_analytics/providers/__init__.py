"""Market-data providers (SPEC §3): Yahoo, OANDA, the demo simulator and CSV files.

A regular package (it was a namespace package by accident, which a non-editable install and
the import-linter contract both skip): the lowest layer, it imports only the shared leaves.
"""
