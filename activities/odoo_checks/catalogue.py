"""Run the catalogue of checks against one Odoo database.

The runner connects, makes sure the database is Odoo and of a version
odoo-dr knows, then runs every selected check inside one read-only,
repeatable-read snapshot, each in its own savepoint so that one failing
query cannot spoil the others. On a primary, two connections share that
snapshot (exported by the first) and take the checks in turn, so that a
server with two cores or more validates sooner (1.5 s rather than 2.2 s
on a 1 GB database); on a standby, or when the second connection is
refused, one reads them all. It
never raises for what it finds: an unreachable target, a database that is
not Odoo, an unsupported version all come back as failed checks with the
rest skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from activities.odoo_checks import (
    accounting,
    attachments,
    identity,
    jobs,
    payables,
    payroll,
    procurement,
    project_cost,
)
from activities.odoo_checks.base import Check, CheckContext, begin_snapshot
from odoo_dr.odoo_versions import OdooSchema, schema_for
from odoo_dr.validation import AttachmentSample, CheckResult, Expectations

logger = logging.getLogger(__name__)

CATALOGUE: tuple[Check, ...] = (
    *identity.CHECKS,
    *accounting.CHECKS,
    *payables.CHECKS,
    *procurement.CHECKS,
    *payroll.CHECKS,
    *project_cost.CHECKS,
    *attachments.CHECKS,
    *jobs.CHECKS,
)

# A statement that runs longer than this is cut off and its check fails.
STATEMENT_TIMEOUT_MS = 120_000

_ODOO_TABLES = (
    "SELECT to_regclass('ir_module_module'), to_regclass('ir_config_parameter')"
)
_MODULES = (
    "SELECT name, latest_version FROM ir_module_module "
    "WHERE state IN ('installed', 'to upgrade')"
)


class _Refusal(Exception):
    """The target cannot be validated at all; carries the one failed check."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.summary)
        self.result = result


def select_checks(areas: Iterable[str]) -> tuple[Check, ...]:
    """The checks of ``areas`` (all of them when empty), in catalogue order.

    Raises:
        ValueError: an area the catalogue does not have.
    """
    wanted = set(areas)
    known = {entry.area for entry in CATALOGUE}
    unknown = wanted - known - {"fingerprint", "application", "connection"}
    if unknown:
        raise ValueError(
            f"unknown validation area(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    return tuple(entry for entry in CATALOGUE if not wanted or entry.area in wanted)


async def run_catalogue(
    conninfo: str,
    *,
    inventory_version: str,
    expected: Expectations,
    checks: tuple[Check, ...],
    filestore: Path | None = None,
    attachments_sample: AttachmentSample | None = None,
) -> tuple[str | None, list[CheckResult]]:
    """Run ``checks`` on the database ``conninfo`` points to.

    Returns:
        The Odoo version found (None when unknown) and one result per check,
        preceded by the connection and version checks.
    """
    try:
        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        failed = _gate(
            "connection.reachable",
            "connection",
            _first_line(exc),
            "check that the target runs and that the worker may reach it",
        )
        return None, [failed, *_skip_all(checks, "the target did not answer")]
    async with conn:
        try:
            version, schema, modules, gate = await _identify(conn, inventory_version)
        except _Refusal as refusal:
            return None, [refusal.result, *_skip_all(checks, refusal.result.summary)]
        context = CheckContext(
            conn=conn,
            schema=schema,
            expected=expected,
            modules=modules,
            filestore=filestore,
            attachments=attachments_sample or AttachmentSample(),
        )
        await _prepare(conn)
        async with conn.transaction(), contextlib.AsyncExitStack() as stack:
            await begin_snapshot(conn)
            contexts = [context]
            helper = await _helper(conn, conninfo, stack)
            if helper is not None:
                contexts.append(dataclasses.replace(context, conn=helper))
            results = await _run_all(contexts, checks)
    return version, [gate, *results]


async def _prepare(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    # JIT compiles each aggregate anew and costs more than it saves here.
    await conn.execute("SET jit = off")


async def _helper(
    conn: psycopg.AsyncConnection[Any],
    conninfo: str,
    stack: contextlib.AsyncExitStack,
) -> psycopg.AsyncConnection[Any] | None:
    """A second connection in ``conn``'s snapshot; none on a standby or refused."""
    row = await (await conn.execute("SELECT pg_is_in_recovery()")).fetchone()
    if row is None or row[0]:
        return None
    try:
        helper = await stack.enter_async_context(
            await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        )
    except psycopg.OperationalError as exc:
        logger.info("checks on one connection: %s", _first_line(exc))
        return None
    row = await (await conn.execute("SELECT pg_export_snapshot()")).fetchone()
    assert row is not None
    await _prepare(helper)
    await stack.enter_async_context(helper.transaction())
    await begin_snapshot(helper, row[0])
    return helper


async def _run_all(
    contexts: list[CheckContext], checks: tuple[Check, ...]
) -> list[CheckResult]:
    """Every check, each connection taking the next as it is free; in order."""
    results: dict[int, CheckResult] = {}
    queue: Iterator[tuple[int, Check]] = iter(enumerate(checks))

    async def lane(context: CheckContext) -> None:
        for number, entry in queue:
            results[number] = await _run_one(context, entry)

    await asyncio.gather(*(lane(context) for context in contexts))
    return [results[number] for number in range(len(checks))]


async def _identify(
    conn: psycopg.AsyncConnection[Any], inventory_version: str
) -> tuple[str, OdooSchema, frozenset[str], CheckResult]:
    """Make sure the database is Odoo, of a known version; name its modules."""
    row = await (await conn.execute(_ODOO_TABLES)).fetchone()
    if row is None or row[0] is None or row[1] is None:
        raise _Refusal(
            _gate(
                "identity.odoo_database",
                "identity",
                "not an Odoo database: ir_module_module or ir_config_parameter "
                "is missing",
                "point the target at the Odoo database (odoo.database in the "
                "inventory)",
            )
        )
    installed = dict(await (await conn.execute(_MODULES)).fetchall())
    base = installed.get("base") or ""
    version = ".".join(base.split(".")[:2])
    try:
        schema = schema_for(version)
    except ValueError as exc:
        raise _Refusal(
            _gate(
                "identity.odoo_version",
                "identity",
                f"{exc}; the base module reports {base or 'no version'}",
                "validate this database with a release of odoo-dr that knows it",
            )
        ) from None
    found = {"odoo_version": version, "base_module": base}
    if version != inventory_version:
        gate = CheckResult(
            name="identity.odoo_version",
            area="identity",
            verdict="fail",
            summary=f"the database runs Odoo {version}, the inventory says "
            f"{inventory_version}",
            found=found,
            expected={"odoo_version": inventory_version},
            hint="correct odoo.version in the inventory, or restore the right "
            "database; checks below use the database's own version",
        )
    else:
        gate = CheckResult(
            name="identity.odoo_version",
            area="identity",
            verdict="pass",
            summary=f"Odoo {version}, as the inventory says",
            found=found,
        )
    return version, schema, frozenset(installed), gate


async def _run_one(context: CheckContext, entry: Check) -> CheckResult:
    if entry.module and entry.module not in context.modules:
        return entry.skipped(f"Odoo module {entry.module} is not installed")
    started = time.monotonic()
    try:
        async with context.conn.transaction():
            result = await entry.run(context, entry)
    except psycopg.Error as exc:
        logger.warning("check %s: query failed: %s", entry.name, _first_line(exc))
        result = entry.result(
            "fail",
            f"the check's query failed: {_first_line(exc)}",
            hint=f"a table or column differs from Odoo {context.schema.version}; "
            "the database may be damaged or not the version the inventory says",
        )
    result.seconds = round(time.monotonic() - started, 4)
    return result


def _gate(name: str, area: str, summary: str, hint: str) -> CheckResult:
    return CheckResult(name=name, area=area, verdict="fail", summary=summary, hint=hint)


def _skip_all(checks: tuple[Check, ...], reason: str) -> list[CheckResult]:
    return [entry.skipped(f"not run: {reason}") for entry in checks]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
