"""Fingerprints: a recovered database held against what production looked like.

A fingerprint sums, per table, the rows in buckets of ids: for each bucket
the row count and the sum of a 64-bit hash of every row. A row is hashed by
its columns' own hash functions (``hash_record_extended``, as hash
partitioning does), which costs half of hashing the row's text; a table with
a column type that has no hash function is hashed by its text instead. It is
taken inside one snapshot, with the WAL position and the newest commit time
it saw, plus readable per-area figures (bills, payslips, costs) for the
report.

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

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from activities.odoo_checks.base import begin_snapshot
from odoo_dr.validation import (
    EXAMPLES,
    CheckResult,
    Direction,
    Figure,
    Fingerprint,
    FingerprintComparison,
    FingerprintDifference,
    RowHash,
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
_DIGEST: dict[RowHash, str] = {
    "record": "SELECT id / %s, count(*), sum(hash_record_extended(t, 0))::text "
    "FROM {} t GROUP BY 1",
    "text": "SELECT id / %s, count(*), sum(hashtextextended(t::text, 0))::text "
    "FROM {} t GROUP BY 1",
}
# Fails when a column's type (json, point) has no hash function.
_HASHABLE = "SELECT hash_record_extended(json_populate_record(NULL::{}, '{{}}'), 0)"
# The buckets are few, but the planner counts one group per id and would
# sort the whole table to disk; and compiling each digest costs more than
# it saves.
_DIGEST_SETTINGS = ("SET LOCAL enable_sort = off", "SET LOCAL jit = off")
_SIZES = (
    "SELECT relname::text, pg_relation_size(oid) FROM pg_class "
    "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
    "AND relname = ANY(%s)"
)
# Rows the newer side wrote after the older point, per bucket and writer.
_WRITTEN_AFTER = (
    "SELECT id / %s, xmin::text, pg_xact_commit_timestamp(xmin), count(*) "
    "FROM {} WHERE pg_xact_commit_timestamp(xmin) > %s GROUP BY 1, 2, 3"
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


async def capture(
    conn: psycopg.AsyncConnection[Any],
    source: str,
    like: Fingerprint | None = None,
    helper: psycopg.AsyncConnection[Any] | None = None,
    with_figures: bool = True,
) -> Fingerprint:
    """Take a fingerprint of the database ``conn`` is open on.

    Runs in its own read-only, repeatable-read transaction so that the
    position, the figures and the digests all come from one snapshot.
    A table that ``like`` has is summed as there (bucket width, row hash),
    so that the two line up; other tables get a width of their own. With
    ``helper``, a second connection to the same database, the tables are
    shared between the two, which read the same exported snapshot (not on
    a standby, where the one connection reads them all). Without
    ``with_figures``, only the digests are read: no per-area figures.
    """
    async with conn.transaction():
        await _begin(conn)
        lsn, taken_at, database_uuid = await _one(conn, _POSITION)
        (newest_commit,) = await _one(conn, _NEWEST_COMMIT)
        (in_recovery,) = await _one(conn, "SELECT pg_is_in_recovery()")
        present = await _present_tables(conn)
        figures = {}
        for area, query in _FIGURES.items() if with_figures else ():
            if all(table in present for table in _tables_of(query)):
                figures[area] = await _named_row(conn, query)
        if helper is None or in_recovery:
            tables = await _digests(conn, present, like)
        else:
            (snapshot,) = await _one(conn, "SELECT pg_export_snapshot()")
            mine, theirs = await _share(conn, present)
            async with helper.transaction():
                await _begin(helper, snapshot)
                both = await asyncio.gather(
                    _digests(conn, mine, like), _digests(helper, theirs, like)
                )
            tables = {t: both[0].get(t) or both[1][t] for t in present}
    return Fingerprint(
        source=source,
        wal_lsn=lsn,
        taken_at=taken_at,
        newest_commit=newest_commit,
        database_uuid=database_uuid,
        figures=figures,
        tables=tables,
    )


async def _begin(conn: psycopg.AsyncConnection[Any], snapshot: str = "") -> None:
    """Start the read-only snapshot a fingerprint is read in."""
    await begin_snapshot(conn, snapshot)
    for setting in _DIGEST_SETTINGS:
        await conn.execute(setting)


async def _share(
    conn: psycopg.AsyncConnection[Any], tables: list[str]
) -> tuple[list[str], list[str]]:
    """Two lists of tables of about the same size, the largest first."""
    cur = await conn.execute(_SIZES, (tables,))
    sizes = dict(await cur.fetchall())
    shares: tuple[list[str], list[str]] = ([], [])
    loads = [0, 0]
    for table in sorted(tables, key=lambda t: -sizes.get(t, 0)):
        lighter = 0 if loads[0] <= loads[1] else 1
        shares[lighter].append(table)
        loads[lighter] += sizes.get(table, 0)
    return shares


async def _digests(
    conn: psycopg.AsyncConnection[Any], tables: list[str], like: Fingerprint | None
) -> dict[str, TableDigest]:
    digests = {}
    for table in tables:
        earlier = like.tables.get(table) if like else None
        if earlier is None:
            digests[table] = await _digest(conn, table, await _width(conn, table))
        else:
            digests[table] = await _digest(conn, table, earlier.width, earlier.row_hash)
    return digests


async def compare(
    fingerprint: Fingerprint,
    target: psycopg.AsyncConnection[Any],
    witness: psycopg.AsyncConnection[Any] | None,
    target_point: datetime | None = None,
) -> FingerprintComparison:
    """Hold ``fingerprint`` against the target database (see :func:`hold_against`)."""
    comparison, _taken = await hold_against(fingerprint, target, witness, target_point)
    return comparison


async def hold_against(
    fingerprint: Fingerprint,
    target: psycopg.AsyncConnection[Any],
    witness: psycopg.AsyncConnection[Any] | None,
    target_point: datetime | None = None,
    source: str = "target",
    helper: psycopg.AsyncConnection[Any] | None = None,
    with_figures: bool = True,
    cutoff: datetime | None = None,
) -> tuple[FingerprintComparison, Fingerprint]:
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
        source: What the target is, for the target's own fingerprint.
        helper: A second connection to the target, to read it in two.
        with_figures: Whether the target's fingerprint has per-area figures.
        cutoff: A commit time within the span (when a drill began): the
            transactions between the older point and it are counted apart,
            as those a restore then would have lost.

    Returns:
        The comparison, and the target's own fingerprint (named ``source``),
        taken by the same reads with the same bucket widths.
    """
    target_commit = target_point or (await _one(target, _NEWEST_COMMIT))[0]
    if not target_point:
        await target.rollback()  # the capture opens a snapshot of its own
    direction, lower, upper = _span(fingerprint.newest_commit, target_commit)
    newer = target if direction == "target-newer" else witness
    widths = {table: digest.width for table, digest in fingerprint.tables.items()}
    reading = capture(target, source, fingerprint, helper, with_figures)
    written: dict[str, _Written] = {}
    if newer is None or lower is None or upper is None:
        taken = await reading
    elif newer is target:
        taken = await reading
        written = await _written_after(target, widths, lower, upper)
    else:
        # Two servers: the target is read while the witness is asked.
        taken, written = await asyncio.gather(
            reading, _written_after(newer, widths, lower, upper)
        )
    comparison = FingerprintComparison(
        fingerprint_source=fingerprint.source,
        fingerprint_commit=fingerprint.newest_commit,
        target_commit=target_commit,
        direction=direction,
        transactions_between=0,
        rows_between=0,
        cutoff=cutoff,
    )
    _count_differences(comparison, fingerprint, taken, written)
    if cutoff is not None:
        comparison.transactions_to_cutoff = sum(
            1 for touched in _merged_writers(written).values() if touched <= cutoff
        )
    return comparison, taken


@dataclass
class _Written:
    """What the newer side wrote to one table after the older point."""

    rows_per_bucket: dict[int, int] = field(default_factory=dict)
    # The transactions that committed up to the newer point, with their time.
    transactions: dict[str, datetime] = field(default_factory=dict)


def _merged_writers(written: dict[str, _Written]) -> dict[str, datetime]:
    """Every table's writing transactions, each once, with its commit time."""
    return {
        xid: committed
        for touched in written.values()
        for xid, committed in touched.transactions.items()
    }


def _count_differences(
    comparison: FingerprintComparison,
    fingerprint: Fingerprint,
    taken: Fingerprint,
    written: dict[str, _Written],
) -> None:
    """Each table's differing buckets, and which later writes explain them."""
    for table, recorded in fingerprint.tables.items():
        current = taken.tables.get(table) or TableDigest(
            width=recorded.width, rows=0, buckets={}
        )
        differing = sorted(
            bucket
            for bucket in recorded.buckets.keys() | current.buckets.keys()
            if recorded.buckets.get(bucket) != current.buckets.get(bucket)
        )
        touched = written.get(table, _Written())
        after = sum(touched.rows_per_bucket.values())
        comparison.rows_between += after
        if differing:
            comparison.differences.append(
                FingerprintDifference(
                    table=table,
                    area=TABLES[table],
                    buckets_differing=len(differing),
                    buckets_explained=sum(
                        1 for b in differing if b in touched.rows_per_bucket
                    ),
                    unexplained=[
                        b for b in differing if b not in touched.rows_per_bucket
                    ],
                    rows_after_point=after,
                )
            )
    comparison.transactions_between = len(_merged_writers(written))


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
    conn: psycopg.AsyncConnection[Any],
    table: str,
    width: int,
    row_hash: RowHash = "record",
) -> TableDigest:
    if row_hash == "record" and not await _hashable(conn, table):
        row_hash = "text"
    query = sql.SQL(_DIGEST[row_hash]).format(sql.Identifier(table))
    rows = await (await conn.execute(query, (width,))).fetchall()
    return TableDigest(
        width=width,
        rows=sum(count for _bucket, count, _hash in rows),
        buckets={bucket: f"{count}:{digest}" for bucket, count, digest in rows},
        row_hash=row_hash,
    )


async def _hashable(conn: psycopg.AsyncConnection[Any], table: str) -> bool:
    """Whether every column of ``table`` has a hash function."""
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL(_HASHABLE).format(sql.Identifier(table)))
    except psycopg.errors.UndefinedFunction:
        return False
    return True


async def _written_after(
    conn: psycopg.AsyncConnection[Any],
    widths: dict[str, int],
    after: datetime,
    until: datetime,
) -> dict[str, _Written]:
    """Per table, the rows written after ``after``.

    With them, the transactions among those that committed up to ``until``.
    """
    await conn.execute("SET LOCAL jit = off")
    present = set(await _present_tables(conn))
    written: dict[str, _Written] = {}
    for table, width in widths.items():
        if table not in present:
            continue
        query = sql.SQL(_WRITTEN_AFTER).format(sql.Identifier(table))
        rows = await (await conn.execute(query, (width, after))).fetchall()
        found = written[table] = _Written()
        for bucket, xid, committed, count in rows:
            found.rows_per_bucket[bucket] = found.rows_per_bucket.get(bucket, 0) + count
            if committed <= until:
                found.transactions[xid] = committed
    await conn.rollback()
    return written


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
