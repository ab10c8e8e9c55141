"""payables: checks are being written."""

from __future__ import annotations

from activities.odoo_checks.base import Check

CHECKS: tuple[Check, ...] = ()
