"""Shared core of odoo-dr: inventory, runbook models, errors and names.

Nothing here performs I/O at import time, so workflows can import it through
the Temporal sandbox.
"""
