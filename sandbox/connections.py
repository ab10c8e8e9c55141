"""Connection strings to the sandbox's databases, built from its secrets."""

from __future__ import annotations

import psycopg

from sandbox.layout import DATABASE, Layout
from sandbox.processes import LOOPBACK


def odoo_conninfo(layout: Layout, port: int, dbname: str = DATABASE) -> str:
    """The conninfo Odoo itself would use: the application role on the primary."""
    password = layout.secret("odoo-password").read_text().strip()
    return psycopg.conninfo.make_conninfo(
        host=LOOPBACK, port=port, user="odoo", password=password, dbname=dbname
    )
