"""The shape of a check: a named query on Odoo's tables that returns a verdict.

Each business area has its own module with a ``CHECKS`` tuple. A check reads
only (the runner holds one read-only, repeatable-read transaction, so every
check sees the same snapshot) and returns a :class:`CheckResult`. A check
whose Odoo module is not installed is skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from odoo_dr.odoo_versions import OdooSchema
from odoo_dr.validation import (
    EXAMPLES,
    AttachmentSample,
    CheckResult,
    CheckVerdict,
    Expectations,
    Figure,
)


@dataclass
class CheckContext:
    """What a check may use: the open connection and what the runbook expects."""

    conn: psycopg.AsyncConnection[Any]
    schema: OdooSchema
    expected: Expectations
    modules: frozenset[str]
    filestore: Path | None = None
    attachments: AttachmentSample = field(default_factory=AttachmentSample)

    async def rows(
        self, query: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """All rows of a read-only query."""
        cur = await self.conn.execute(query, params)
        return await cur.fetchall()

    async def one(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        """The single row of an aggregate query."""
        rows = await self.rows(query, params)
        return rows[0]


async def begin_snapshot(
    conn: psycopg.AsyncConnection[Any], snapshot: str = ""
) -> None:
    """Make the transaction just opened read-only and repeatable-read.

    With ``snapshot`` (exported by another connection's
    ``pg_export_snapshot()``), it reads what that transaction reads.
    """
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if snapshot:
        await conn.execute(
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot))
        )


CheckFunction = Callable[[CheckContext, "Check"], Awaitable[CheckResult]]


@dataclass(frozen=True)
class Check:
    """One entry of the catalogue."""

    name: str
    area: str
    run: CheckFunction
    critical: bool = True
    module: str | None = None

    def result(
        self,
        verdict: CheckVerdict,
        summary: str,
        *,
        found: Mapping[str, Figure] | None = None,
        expected: Mapping[str, Figure] | None = None,
        examples: Sequence[str] = (),
        hint: str = "",
    ) -> CheckResult:
        """A result of this check; examples are cut to the first few."""
        return CheckResult(
            name=self.name,
            area=self.area,
            verdict=verdict,
            critical=self.critical,
            summary=summary,
            found=dict(found or {}),
            expected=dict(expected or {}),
            examples=list(examples)[:EXAMPLES],
            hint=hint,
        )

    def skipped(self, reason: str) -> CheckResult:
        """This check did not run, and why."""
        return self.result("skipped", reason)


def check(
    name: str, area: str, *, critical: bool = True, module: str | None = None
) -> Callable[[CheckFunction], Check]:
    """Make a catalogue entry of an async function ``(context, check)``."""

    def wrap(function: CheckFunction) -> Check:
        return Check(name, area, function, critical, module)

    return wrap
