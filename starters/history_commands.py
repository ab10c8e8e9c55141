"""``odoo-dr drill history``: past drills of an environment, newest first.

Drills are found by their search attributes (runbook ``restore-drill`` and
the environment); each finished one's figures come from its own result, the
report it returned, so that the list shows what the drills measured rather
than what anyone wrote down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from odoo_dr.errors import OdooDrError
from odoo_dr.models import DrillReport
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK
from starters.settings import read_inventory, temporal_target


@dataclass
class DrillRow:
    """One past drill as the history lists it."""

    workflow_id: str
    started_at: datetime
    status: str
    verdict: str | None = None
    backup: str | None = None
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    missed: str = ""


def register(verbs: Any) -> None:
    """Add ``drill history`` to the ``drill`` command group."""
    from starters.cli import add_inventory_argument

    history = verbs.add_parser("history", help="past drills: RTO, RPO, verdict")
    add_inventory_argument(history)
    history.add_argument("--env", required=True, help="environment of the inventory")
    history.add_argument("--limit", type=int, default=20, help="newest N (20)")
    history.add_argument("--address", help="Temporal frontend host:port")
    history.add_argument("--json", action="store_true", help="rows as JSON")
    history.set_defaults(handler=_history)


def _history(args: argparse.Namespace) -> int:
    env = read_inventory(args.inventory).environment(args.env)
    if args.limit < 1:
        raise OdooDrError("--limit must be at least 1")
    rows = asyncio.run(past_drills(temporal_target(args.address), env.name, args.limit))
    if args.json:
        print(json.dumps([asdict(r) for r in rows], default=str, indent=2))
    else:
        print(render(env.name, rows))
    return 0


async def past_drills(address: str, environment: str, limit: int) -> list[DrillRow]:
    """The newest ``limit`` drills of ``environment``, with their figures."""
    from worker.main import connect

    try:
        client = await connect(address)
    except RuntimeError as exc:
        raise OdooDrError(f"cannot reach Temporal at {address}: {exc}") from None
    query = f"{SA_RUNBOOK} = 'restore-drill' AND {SA_ENVIRONMENT} = '{environment}'"
    rows = []
    async for execution in client.list_workflows(query, limit=limit):
        row = DrillRow(
            workflow_id=execution.id,
            started_at=execution.start_time,
            status=execution.status.name.lower() if execution.status else "unknown",
        )
        if row.status == "completed":
            handle = client.get_workflow_handle(
                execution.id, run_id=execution.run_id, result_type=DrillReport
            )
            _fill(row, await handle.result())
        rows.append(row)
    return rows


def _fill(row: DrillRow, report: DrillReport) -> None:
    row.verdict = report.verdict
    row.backup = report.backup.backup_id if report.backup else None
    row.rto_seconds = report.rto_seconds
    row.rpo_seconds = report.rpo_seconds
    row.missed = "; ".join(report.missed)


def render(environment: str, rows: list[DrillRow]) -> str:
    """The history as a table a person reads, newest first."""
    if not rows:
        return f"no restore drill of {environment} found"

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"restore drills of {environment}, newest first",
        f"{'started (UTC)':<17} {'verdict':<9} {'RTO s':>8} {'RPO s':>8}  "
        f"{'backup':<18} objectives missed",
    ]
    for r in rows:
        lines.append(
            f"{r.started_at:%Y-%m-%d %H:%M} {(r.verdict or r.status):<9} "
            f"{seconds(r.rto_seconds):>8} {seconds(r.rpo_seconds):>8}  "
            f"{(r.backup or '-'):<18} {r.missed or '-'}"
        )
    return "\n".join(lines)
