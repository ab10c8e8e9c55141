from __future__ import annotations

from datetime import datetime

import psycopg

from activities.odoo_checks import fingerprint
from odoo_dr.validation import Fingerprint, FingerprintComparison
from tests.clusters import Cluster
from tests.validation.conftest import OdooCopy

# Three transactions as the site writes them: a bill paid, a timesheet, a PO.
_LATER_WORK = (
    "UPDATE account_move SET payment_reference = 'site office' "
    "WHERE id = (SELECT max(id) FROM account_move WHERE state = 'posted')",
    "INSERT INTO account_analytic_line (name, date, amount, unit_amount, "
    "account_id, company_id, project_id) SELECT 'Formwork', current_date, -120, 2, "
    "account_id, company_id, project_id FROM account_analytic_line "
    "WHERE project_id IS NOT NULL LIMIT 1",
    "UPDATE purchase_order SET priority = '1' WHERE id = (SELECT min(id) FROM "
    "purchase_order)",
)


def _clone(cluster: Cluster, source: OdooCopy) -> str:
    """A template copy of ``source`` as it is now: an 'earlier point'."""
    name = f"{source.dbname}_earlier"
    with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source.dbname}"')
    return cluster.conninfo(name)


def _now(copy: OdooCopy) -> datetime:
    value = copy.value("SELECT clock_timestamp()")
    assert isinstance(value, datetime)
    return value


async def _capture(conninfo: str) -> Fingerprint:
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        return await fingerprint.capture(conn, "production")


async def _compare(
    taken: Fingerprint,
    target: str,
    witness: str | None,
    point: datetime | None = None,
) -> FingerprintComparison:
    async with await psycopg.AsyncConnection.connect(target) as conn:
        if witness is None:
            return await fingerprint.compare(taken, conn, None, point)
        async with await psycopg.AsyncConnection.connect(witness) as other:
            return await fingerprint.compare(taken, conn, other, point)


async def test_fingerprint_has_figures_per_area_and_every_table(
    odoo_copy: OdooCopy,
) -> None:
    taken = await _capture(odoo_copy.conninfo)
    assert taken.database_uuid == odoo_copy.database_uuid
    assert set(taken.figures) >= {"accounting", "payables", "payroll", "project_cost"}
    assert taken.tables["account_move_line"].rows == odoo_copy.value(
        "SELECT count(*) FROM account_move_line"
    )
    assert all(len(t.buckets) <= fingerprint.MAX_BUCKETS for t in taken.tables.values())


async def test_earlier_copy_differs_exactly_by_the_later_transactions(
    pg_cluster: Cluster, odoo_copy: OdooCopy
) -> None:
    earlier = _clone(pg_cluster, odoo_copy)
    point = _now(odoo_copy)
    for statement in _LATER_WORK:
        odoo_copy.execute(statement)
    taken = await _capture(odoo_copy.conninfo)

    comparison = await _compare(taken, earlier, odoo_copy.conninfo, point)

    assert comparison.direction == "target-older"
    assert comparison.transactions_between == len(_LATER_WORK)
    assert comparison.rows_between == len(_LATER_WORK)
    assert comparison.unexplained == 0
    assert {d.table for d in comparison.differences} == {
        "account_move",
        "account_analytic_line",
        "purchase_order",
    }
    result = fingerprint.comparison_result(comparison, taken, witnessed=True)
    assert result.verdict == "pass"


async def test_transactions_up_to_a_cutoff_are_counted_apart(
    pg_cluster: Cluster, odoo_copy: OdooCopy
) -> None:
    earlier = _clone(pg_cluster, odoo_copy)
    point = _now(odoo_copy)
    odoo_copy.execute(_LATER_WORK[0])
    cutoff = _now(odoo_copy)  # a drill begins here
    for statement in _LATER_WORK[1:]:
        odoo_copy.execute(statement)
    taken = await _capture(odoo_copy.conninfo)

    async with (
        await psycopg.AsyncConnection.connect(earlier) as conn,
        await psycopg.AsyncConnection.connect(odoo_copy.conninfo) as witness,
    ):
        comparison, _own = await fingerprint.hold_against(
            taken, conn, witness, point, cutoff=cutoff
        )

    assert comparison.unexplained == 0
    assert comparison.transactions_between == len(_LATER_WORK)
    assert comparison.cutoff == cutoff and comparison.transactions_to_cutoff == 1


async def test_tampered_earlier_copy_fails_with_the_id_range(
    pg_cluster: Cluster, odoo_copy: OdooCopy
) -> None:
    earlier = _clone(pg_cluster, odoo_copy)
    point = _now(odoo_copy)
    for statement in _LATER_WORK:
        odoo_copy.execute(statement)
    taken = await _capture(odoo_copy.conninfo)
    with psycopg.connect(earlier, autocommit=True) as conn:
        conn.execute("UPDATE account_move_line SET debit = debit + 1 WHERE id = 1")

    comparison = await _compare(taken, earlier, odoo_copy.conninfo, point)
    result = fingerprint.comparison_result(comparison, taken, witnessed=True)

    assert comparison.unexplained == 1
    assert result.verdict == "fail" and result.critical
    assert result.examples[0].startswith("account_move_line ids 0-")


async def test_newer_target_explains_its_own_later_transactions(
    odoo_copy: OdooCopy,
) -> None:
    taken = await _capture(odoo_copy.conninfo)
    for statement in _LATER_WORK[:2]:
        odoo_copy.execute(statement)

    comparison = await _compare(taken, odoo_copy.conninfo, None)

    assert comparison.direction == "target-newer"
    assert comparison.transactions_between == 2
    assert comparison.unexplained == 0


async def test_older_target_without_witness_cannot_explain(
    pg_cluster: Cluster, odoo_copy: OdooCopy
) -> None:
    earlier = _clone(pg_cluster, odoo_copy)
    point = _now(odoo_copy)
    odoo_copy.execute(_LATER_WORK[0])
    taken = await _capture(odoo_copy.conninfo)

    comparison = await _compare(taken, earlier, None, point)
    result = fingerprint.comparison_result(comparison, taken, witnessed=False)

    assert result.verdict == "fail"
    assert "no witness" in result.hint


async def test_two_connections_read_the_digests_one_reads(odoo_copy: OdooCopy) -> None:
    alone = await _capture(odoo_copy.conninfo)
    async with (
        await psycopg.AsyncConnection.connect(odoo_copy.conninfo) as conn,
        await psycopg.AsyncConnection.connect(odoo_copy.conninfo) as helper,
    ):
        shared = await fingerprint.capture(conn, "production", helper=helper)

    assert shared.tables == alone.tables
    assert shared.figures == alone.figures
    assert {t.row_hash for t in shared.tables.values()} == {"record"}


async def test_table_with_an_unhashable_column_is_hashed_by_its_text(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute("ALTER TABLE ir_attachment ADD COLUMN x_site_notes json")
    odoo_copy.execute("UPDATE ir_attachment SET x_site_notes = '{\"crane\": 2}'")
    taken = await _capture(odoo_copy.conninfo)
    odoo_copy.execute(
        "UPDATE ir_attachment SET x_site_notes = '{\"crane\": 3}' "
        "WHERE id = (SELECT min(id) FROM ir_attachment)"
    )

    comparison = await _compare(taken, odoo_copy.conninfo, None)

    assert taken.tables["ir_attachment"].row_hash == "text"
    assert taken.tables["account_move_line"].row_hash == "record"
    assert comparison.direction == "target-newer"
    assert [d.table for d in comparison.differences] == ["ir_attachment"]
    assert comparison.unexplained == 0


async def test_fingerprint_that_hashed_text_is_compared_by_text(
    pg_cluster: Cluster, odoo_copy: OdooCopy
) -> None:
    earlier = _clone(pg_cluster, odoo_copy)
    recorded = (await _capture(odoo_copy.conninfo)).model_dump(mode="json")
    for table in recorded["tables"].values():
        del table["row_hash"]  # as fingerprints were before records were hashed
    as_text = Fingerprint.model_validate(recorded)
    async with await psycopg.AsyncConnection.connect(odoo_copy.conninfo) as conn:
        old = await fingerprint.capture(conn, "production", like=as_text)
    with psycopg.connect(earlier, autocommit=True) as conn:
        conn.execute("UPDATE account_move_line SET debit = debit + 1 WHERE id = 1")

    # At the fingerprint's own point: no later transaction explains anything.
    comparison = await _compare(old, earlier, None, old.newest_commit)

    assert {t.row_hash for t in old.tables.values()} == {"text"}
    assert [d.table for d in comparison.differences] == ["account_move_line"]
    assert comparison.differences[0].unexplained == [0]


async def test_fingerprint_without_figures_has_the_same_digests(
    odoo_copy: OdooCopy,
) -> None:
    full = await _capture(odoo_copy.conninfo)
    async with await psycopg.AsyncConnection.connect(odoo_copy.conninfo) as conn:
        bare = await fingerprint.capture(conn, "production", with_figures=False)

    assert bare.figures == {} and full.figures
    assert bare.tables == full.tables
