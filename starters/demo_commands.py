"""``odoo-dr demo``: the sandbox, seeded, and one restore drill, end to end."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import time
import uuid
from typing import Any

from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK
from sandbox.layout import ENVIRONMENT, Layout, SandboxState, default_home


def register(commands: Any) -> None:
    """Add the ``demo`` command."""
    demo = commands.add_parser(
        "demo", help="sandbox up, seed, run a restore drill with a worker, report"
    )
    demo.add_argument("--scale", type=float, default=1.0, help="dataset scale")
    demo.add_argument("--seed", type=int, default=42, help="dataset random seed")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from odoo_dr.inventory import load_inventory
    from sandbox.connections import odoo_conninfo
    from sandbox.control import UpOptions, archive_and_back_up, up
    from sandbox.seed import SeedRefusedError, seed_database
    from sandbox.temporal import ui_url
    from starters.drill_commands import render_report
    from starters.settings import run_link

    home = default_home()
    began = time.monotonic()
    state = up(UpOptions(home=home))
    print(f"sandbox up ({time.monotonic() - began:.1f} s) in {home}")
    layout = Layout(home)
    try:
        summary = seed_database(
            odoo_conninfo(layout, state.ports.pg_primary),
            scale=args.scale,
            seed=args.seed,
            filestore=layout.filestore,
        )
        print(f"seeded scale {args.scale}: {summary.database_bytes} bytes")
        backup_id = archive_and_back_up(home)
        print(f"WAL archived; nightly-style base backup {backup_id} taken")
    except SeedRefusedError:
        print("the sandbox database is already seeded; keeping it")
    inventory = load_inventory(layout.inventory)
    report, workflow_id = asyncio.run(_drill_with_worker(state, inventory))
    print(render_report(report))
    print(f"Temporal UI: {ui_url(state.ports)}")
    print(f"this run:    {run_link(ui_url(state.ports), workflow_id, report.run_id)}")
    print("the sandbox stays up; stop it with: odoo-dr sandbox down")
    return 0 if report.verdict == "pass" else 1


async def _drill_with_worker(
    state: SandboxState, inventory: Any
) -> tuple[DrillReport, str]:
    from temporalio.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )

    from sandbox.temporal import temporal_address
    from worker.main import build_worker, connect
    from workflows.drill import RestoreDrillWorkflow

    client = await connect(temporal_address(state.ports))
    task_queue = f"odoo-dr-demo-{uuid.uuid4().hex[:6]}"
    workflow_id = f"restore-drill-{ENVIRONMENT}-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, inventory, task_queue):
        report = await client.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(
                environment=ENVIRONMENT,
                reason="odoo-dr demo",
                requested_by=getpass.getuser(),
            ),
            id=workflow_id,
            task_queue=task_queue,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(
                        SearchAttributeKey.for_keyword(SA_ENVIRONMENT), ENVIRONMENT
                    ),
                    SearchAttributePair(
                        SearchAttributeKey.for_keyword(SA_RUNBOOK), "restore-drill"
                    ),
                ]
            ),
            static_summary=f"Restore drill of {ENVIRONMENT} (demo)",
        )
    return report, workflow_id
