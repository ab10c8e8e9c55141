"""The sandbox's WAL archive and base backups as tests reach into them."""

from __future__ import annotations

from typing import Any

import psycopg

from odoo_dr.readiness import segment_of
from sandbox import objectstore
from sandbox.control import archive_current_wal
from sandbox.layout import BACKUP_PREFIX, BUCKET, SERVER_NAME
from sandbox.postgres import superuser_conninfo
from tests.conftest import Sandbox


def archive_after_a_write(sandbox: Sandbox) -> str:
    """Write a WAL record, then switch and archive the segment holding it.

    pg_switch_wal() does nothing on a segment with nothing written since the
    last switch; a logical message is a WAL record that touches no table.
    """
    conninfo = superuser_conninfo(sandbox.layout, sandbox.state.ports.pg_primary)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_logical_emit_message(false, 'odoo-dr', 'readiness')")
    return archive_current_wal(sandbox.layout.home)


def wal_keys(s3: Any) -> dict[str, str]:
    """Archived segment name -> object key."""
    prefix = f"{BACKUP_PREFIX}/{SERVER_NAME}/wals/"
    keys = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix
    ):
        for obj in page.get("Contents", []):
            segment = segment_of(obj["Key"].rsplit("/", 1)[-1])
            if segment:
                keys[segment] = obj["Key"]
    return keys


def newest_backup(sandbox: Sandbox) -> dict[str, Any]:
    """The newest completed base backup, as barman-cloud-backup-list gives it."""
    done = [
        b
        for b in objectstore.list_backups(sandbox.layout, sandbox.state.ports.s3)
        if b["status"] == "DONE"
    ]
    return max(done, key=lambda b: b["end_time_iso"])


def backup_key(backup_id: str, name: str) -> str:
    """The object key of one file of a base backup."""
    return f"{BACKUP_PREFIX}/{SERVER_NAME}/base/{backup_id}/{name}"
