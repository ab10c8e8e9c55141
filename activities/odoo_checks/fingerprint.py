"""Fingerprints: a recovered database held against what production looked like.

A fingerprint sums, per table, the rows in buckets of ids: for each bucket
the row count and the sum of a 64-bit hash of every row's text. It is taken
inside one snapshot, with the WAL position and the newest commit time it
saw, plus readable per-area figures (bills, payslips, costs) for the report.

Comparing a fingerprint with a database at another point in time, a bucket
that differs is explained only when a transaction committed between the two
points touched a row of that bucket. That is read from the database whose
history covers the span (the newer side, called the witness) through the
commit timestamps of its rows' ``xmin``, so it needs ``track_commit_timestamp``
on that server. Every other difference is unexplained: damage, tampering or a
lost transaction. A row deleted between the two points, in a bucket nothing
else touched, cannot be told from a lost one and shows as unexplained.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from odoo_dr.validation import (
    EXAMPLES,
    CheckResult,
    Direction,
    Figure,
    Fingerprint,
    FingerprintComparison,
    FingerprintDifference,
    TableDigest,
)

# The tables a fingerprint sums, by business area.
TABLES: dict[str, str] = {
    "ir_config_parameter": "identity",
    "account_move": "accounting",
    "account_move_line": "accounting",
    "purchase_order": "procurement",
    "purchase_order_line": "procurement",
    "hr_payslip_run": "payroll",
    "hr_payslip": "payroll",
    "hr_payslip_line": "payroll",
    "project_project": "project_cost",
    "account_analytic_line": "project_cost",
    "ir_attachment": "attachments",
}

# A table is cut into at most this many buckets (fewer for small tables).
MAX_BUCKETS = 128
MIN_WIDTH = 64

_POSITION = """
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
            ELSE pg_current_wal_lsn() END::text,
       clock_timestamp(),
       (SELECT value FROM ir_config_parameter WHERE key = 'database.uuid')
"""
_NEWEST_COMMIT = """
SELECT coalesce(
  (pg_last_committed_xact()).timestamp,
  (SELECT max(pg_xact_commit_timestamp((n.next - i)::text::xid))
     FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next) n,
          generate_series(1, least(1000, n.next - 3)) AS i))
"""
_DIGEST = (
    "SELECT id / %s, count(*), sum(hashtextextended(t::text, 0))::text "
    "FROM {} t GROUP BY 1"
)
_TOUCHED = (
    "SELECT id / %s, count(*) FROM {} "
    "WHERE pg_xact_commit_timestamp(xmin) > %s GROUP BY 1"
)
_BETWEEN = (
    "SELECT xmin::text FROM {} WHERE pg_xact_commit_timestamp(xmin) > %s "
    "AND pg_xact_commit_timestamp(xmin) <= %s"
)
# Readable aggregates per area; each query returns one row of named figures.
_FIGURES: dict[str, str] = {
    "accounting": "SELECT count(*) AS posted_moves, "
    "coalesce(sum(amount_total), 0)::text AS posted_total "
    "FROM account_move WHERE state = 'posted'",
    "payables": "SELECT count(*) AS vendor_bills, "
    "coalesce(sum(amount_total_signed), 0)::text AS bills_total, "
    "coalesce(sum(amount_residual_signed), 0)::text AS bills_residual "
    "FROM account_move WHERE state = 'posted' "
    "AND move_type IN ('in_invoice', 'in_refund')",
    "procurement": "SELECT count(*) FILTER (WHERE state IN ('purchase', 'done')) "
    "AS confirmed_orders, count(*) FILTER (WHERE state = 'to approve') "
    "AS orders_to_approve, coalesce(sum(amount_total) FILTER "
    "(WHERE state IN ('purchase', 'done')), 0)::text AS confirmed_total "
    "FROM purchase_order",
    "payroll": "SELECT count(*) AS payslips, "
    "coalesce(sum(net_wage), 0)::text AS net_total FROM hr_payslip",
    "project_cost": "SELECT count(*) AS analytic_lines, "
    "coalesce(sum(amount), 0)::text AS cost_total, "
    "coalesce(sum(unit_amount), 0)::text AS hours FROM account_analytic_line "
    "WHERE project_id IS NOT NULL",
    "attachments": "SELECT count(*) AS attachments, "
    "coalesce(sum(file_size), 0) AS bytes FROM ir_attachment "
    "WHERE store_fname IS NOT NULL",
}


async def capture(conn: psycopg.AsyncConnection[Any], source: str) -> Fingerprint:
    """Take a fingerprint of the database ``conn`` is open on.

    Runs in its own read-only, repeatable-read transaction so that the
    position, the figures and the digests all come from one snapshot.
    """
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        lsn, taken_at, database_uuid = await _one(conn, _POSITION)
        (newest_commit,) = await _one(conn, _NEWEST_COMMIT)
        present = await _present_tables(conn)
        figures = {}
        for area, query in _FIGURES.items():
            if all(table in present for table in _tables_of(query)):
                figures[area] = await _named_row(conn, query)
        tables = {}
        for table in present:
            tables[table] = await _digest(conn, table, await _width(conn, table))
    return Fingerprint(
        source=source,
        wal_lsn=lsn,
        taken_at=taken_at,
        newest_commit=newest_commit,
        database_uuid=database_uuid,
        figures=figures,
        tables=tables,
    )


async def compare(
    fingerprint: Fingerprint,
    target: psycopg.AsyncConnection[Any],
    witness: psycopg.AsyncConnection[Any] | None,
    target_point: datetime | None = None,
) -> FingerprintComparison:
    """Hold ``fingerprint`` against the target database.

    Args:
        fingerprint: Taken earlier, on production or on a copy.
        target: The recovered database.
        witness: The live database whose history covers the span when the
            target is older than the fingerprint (production, for a restore
            to an earlier point). Unused when the target is the newer side.
        target_point: The newest commit the target recovered, as the
            runbook knows it (the recovery target, the replayed position).
            Without it the target's own server is asked, and any write made
            on the target since (a tamperer's too) makes it look newer.
    """
    target_commit = target_point or (await _one(target, _NEWEST_COMMIT))[0]
    direction, lower, upper = _span(fingerprint.newest_commit, target_commit)
    newer = target if direction == "target-newer" else witness
    comparison = FingerprintComparison(
        fingerprint_source=fingerprint.source,
        fingerprint_commit=fingerprint.newest_commit,
        target_commit=target_commit,
        direction=direction,
        transactions_between=0,
        rows_between=0,
    )
    xids: set[str] = set()
    for table, recorded in fingerprint.tables.items():
        current = await _digest(target, table, recorded.width)
        differing = sorted(
            bucket
            for bucket in recorded.buckets.keys() | current.buckets.keys()
            if recorded.buckets.get(bucket) != current.buckets.get(bucket)
        )
        touched: dict[int, int] = {}
        if newer is not None and lower is not None and direction != "same":
            touched = await _touched(newer, table, recorded.width, lower)
            xids |= await _between(newer, table, lower, upper)
        comparison.rows_between += sum(touched.values())
        if differing:
            comparison.differences.append(
                FingerprintDifference(
                    table=table,
                    area=TABLES[table],
                    buckets_differing=len(differing),
                    buckets_explained=sum(1 for b in differing if b in touched),
                    unexplained=[b for b in differing if b not in touched],
                    rows_after_point=sum(touched.values()),
                )
            )
    comparison.transactions_between = len(xids)
    return comparison


def comparison_result(
    comparison: FingerprintComparison, fingerprint: Fingerprint, witnessed: bool
) -> CheckResult:
    """The comparison as the catalogue's ``fingerprint.compare`` result."""
    found: dict[str, Figure] = {
        "direction": comparison.direction,
        "transactions_between": comparison.transactions_between,
        "rows_between": comparison.rows_between,
        "buckets_unexplained": comparison.unexplained,
    }
    if comparison.unexplained == 0:
        return CheckResult(
            name="fingerprint.compare",
            area="fingerprint",
            verdict="pass",
            summary=f"every difference from the fingerprint of "
            f"{fingerprint.source} is explained by the "
            f"{comparison.transactions_between} transaction(s) committed between "
            "the two points",
            found=found,
        )
    examples = [
        f"{diff.table} ids {bucket * width}-{(bucket + 1) * width - 1}"
        for diff in comparison.differences
        for width in [fingerprint.tables[diff.table].width]
        for bucket in diff.unexplained
    ]
    hint = (
        "rows differ where no later transaction wrote: the copy is damaged or "
        "was changed; compare those id ranges with production before trusting it"
    )
    if comparison.direction == "target-older" and not witnessed:
        hint = (
            "the target is older than the fingerprint and no witness (the live "
            "newer database) was given, so no difference could be explained"
        )
    return CheckResult(
        name="fingerprint.compare",
        area="fingerprint",
        verdict="fail",
        summary=f"{comparison.unexplained} bucket(s) of rows differ from the "
        f"fingerprint of {fingerprint.source} without a later transaction to "
        "explain them",
        found=found,
        examples=examples[:EXAMPLES],
        hint=hint,
    )


def _span(
    fingerprint_commit: datetime | None, target_commit: datetime | None
) -> tuple[Direction, datetime | None, datetime | None]:
    """Which side is newer, and the commit times bounding the span."""
    if fingerprint_commit is None or target_commit is None:
        return "same", None, None
    if target_commit > fingerprint_commit:
        return "target-newer", fingerprint_commit, target_commit
    if target_commit < fingerprint_commit:
        return "target-older", target_commit, fingerprint_commit
    return "same", None, None


async def _present_tables(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    cur = await conn.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' "
        "AND relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
        (list(TABLES),),
    )
    found = {row[0] for row in await cur.fetchall()}
    return [table for table in TABLES if table in found]


def _tables_of(query: str) -> list[str]:
    return [word for word in query.split() if word in TABLES]


async def _width(conn: psycopg.AsyncConnection[Any], table: str) -> int:
    query = sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(sql.Identifier(table))
    (highest,) = await _one(conn, query)
    width = MIN_WIDTH
    while (highest + 1) > width * MAX_BUCKETS:
        width *= 2
    return width


async def _digest(
    conn: psycopg.AsyncConnection[Any], table: str, width: int
) -> TableDigest:
    query = sql.SQL(_DIGEST).format(sql.Identifier(table))
    rows = await (await conn.execute(query, (width,))).fetchall()
    return TableDigest(
        width=width,
        rows=sum(count for _bucket, count, _hash in rows),
        buckets={bucket: f"{count}:{digest}" for bucket, count, digest in rows},
    )


async def _touched(
    conn: psycopg.AsyncConnection[Any], table: str, width: int, after: datetime
) -> dict[int, int]:
    query = sql.SQL(_TOUCHED).format(sql.Identifier(table))
    rows = await (await conn.execute(query, (width, after))).fetchall()
    return {bucket: count for bucket, count in rows}


async def _between(
    conn: psycopg.AsyncConnection[Any],
    table: str,
    after: datetime,
    until: datetime | None,
) -> set[str]:
    query = sql.SQL(_BETWEEN).format(sql.Identifier(table))
    rows = await (await conn.execute(query, (after, until))).fetchall()
    return {xid for (xid,) in rows}


async def _one(conn: psycopg.AsyncConnection[Any], query: Any) -> tuple[Any, ...]:
    row = await (await conn.execute(query)).fetchone()
    assert row is not None
    return tuple(row)


async def _named_row(
    conn: psycopg.AsyncConnection[Any], query: str
) -> dict[str, Figure]:
    cur = await conn.execute(query)
    row = await cur.fetchone()
    names = [column.name for column in cur.description or ()]
    return dict(zip(names, row or (), strict=True))
