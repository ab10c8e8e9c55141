"""The catalogue's runner: checks on two connections that read one snapshot."""

from __future__ import annotations

import asyncio

import psycopg

from activities.odoo_checks.base import Check, CheckContext, check
from activities.odoo_checks.catalogue import run_catalogue
from odoo_dr.validation import CheckResult, Expectations
from tests.validation.conftest import OdooCopy

_COUNT = "SELECT count(*) FROM account_move"


def _checks(copy: OdooCopy) -> tuple[Check, ...]:
    """Two checks: the first commits a move while the second waits, then counts."""

    @check("test.writes_then_counts", "test")
    async def writes_then_counts(context: CheckContext, entry: Check) -> CheckResult:
        await asyncio.to_thread(
            copy.execute,
            "INSERT INTO account_move (name, state, move_type, journal_id, "
            "company_id, currency_id, date) SELECT 'late', 'draft', 'entry', "
            "journal_id, company_id, currency_id, date FROM account_move LIMIT 1",
        )
        await asyncio.sleep(0.3)  # the other check counts meanwhile
        return await _counted(context, entry)

    @check("test.waits_then_counts", "test")
    async def waits_then_counts(context: CheckContext, entry: Check) -> CheckResult:
        await asyncio.sleep(0.15)  # the other check has committed by now
        return await _counted(context, entry)

    return (writes_then_counts, waits_then_counts)


async def _counted(context: CheckContext, entry: Check) -> CheckResult:
    (moves,) = await context.one(_COUNT)
    (backend,) = await context.one("SELECT pg_backend_pid()")
    return entry.result("pass", "counted", found={"moves": moves, "backend": backend})


async def test_checks_share_one_snapshot_across_two_connections(
    odoo_copy: OdooCopy,
) -> None:
    before = odoo_copy.value(_COUNT)

    _version, results = await run_catalogue(
        odoo_copy.conninfo,
        inventory_version="17.0",
        expected=Expectations(),
        checks=_checks(odoo_copy),
    )

    found = {r.name: r.found for r in results if r.name.startswith("test.")}
    first, second = found["test.writes_then_counts"], found["test.waits_then_counts"]
    assert first["backend"] != second["backend"]  # two connections
    # The move committed during the checks is in neither's snapshot.
    assert first["moves"] == second["moves"] == before
    assert odoo_copy.value(_COUNT) == before + 1
    assert [r.name for r in results][-2:] == list(found)  # catalogue order


async def test_a_refused_second_connection_leaves_the_checks_on_one(
    odoo_copy: OdooCopy,
) -> None:
    role = f"{odoo_copy.dbname}_one"
    # Superusers are not held to a connection limit; a reader is.
    odoo_copy.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'x' CONNECTION LIMIT 1")
    odoo_copy.execute(f"GRANT pg_read_all_data TO {role}")
    conninfo = psycopg.conninfo.make_conninfo(
        odoo_copy.conninfo, user=role, password="x"
    )

    _version, results = await run_catalogue(
        conninfo,
        inventory_version="17.0",
        expected=Expectations(),
        checks=_checks(odoo_copy),
    )

    found = {r.name: r.found for r in results if r.name.startswith("test.")}
    assert [r.verdict for r in results if r.name.startswith("test.")] == [
        "pass",
        "pass",
    ]
    assert (
        found["test.writes_then_counts"]["backend"]
        == (found["test.waits_then_counts"]["backend"])
    )
