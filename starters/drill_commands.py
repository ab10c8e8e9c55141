"""``odoo-dr drill run``: start a restore drill and print its report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK, TASK_QUEUE
from starters import history_commands, schedule_commands
from starters.settings import read_inventory, run_link, temporal_target, temporal_ui


def register(commands: Any) -> None:
    """Add the ``drill`` command group."""
    from starters.cli import add_inventory_argument

    drill = commands.add_parser("drill", help="restore drills")
    verbs = drill.add_subparsers(title="drill commands", metavar="VERB")
    run = verbs.add_parser("run", help="run a restore drill now and wait for it")
    add_inventory_argument(run)
    run.add_argument("--env", required=True, help="environment of the inventory")
    run.add_argument("--backup", default=None, help="backup id (default: newest)")
    run.add_argument("--reason", default="restore drill started from the CLI")
    run.add_argument(
        "--sign-off",
        action="append",
        default=[],
        metavar="AREA",
        help="after validation, wait for the owner of this business area "
        "(payroll, payables, procurement, project_cost) to confirm it: gate "
        "sign_off_AREA (repeatable)",
    )
    run.add_argument("--task-queue", default=TASK_QUEUE, help="workers' queue")
    run.add_argument("--address", help="Temporal frontend host:port")
    run.add_argument("--ui", help="Temporal web UI base address")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(handler=_run)
    run.add_argument(
        "--backup-choice",
        choices=["newest", "random"],
        default="newest",
        help="without --backup: the newest, or any backup still in the store",
    )
    schedule_commands.register(verbs)
    history_commands.register(verbs)


def _run(args: argparse.Namespace) -> int:
    # Validate the environment before anything starts: a typo changes nothing.
    read_inventory(args.inventory).environment(args.env)
    report, link = asyncio.run(_start_and_wait(args))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(render_report(report))
    if link:
        print(f"run in the Temporal UI: {link}")
    return 0 if report.verdict == "pass" else 1


async def _start_and_wait(args: argparse.Namespace) -> tuple[DrillReport, str | None]:
    import getpass

    from temporalio.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )

    from worker.main import connect
    from workflows.drill import RestoreDrillWorkflow

    client = await connect(temporal_target(args.address))
    workflow_id = f"restore-drill-{args.env}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(
            environment=args.env,
            backup_id=args.backup,
            backup_choice=args.backup_choice,
            reason=args.reason,
            requested_by=getpass.getuser(),
            sign_off=args.sign_off,
        ),
        id=workflow_id,
        task_queue=args.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(
                    SearchAttributeKey.for_keyword(SA_ENVIRONMENT), args.env
                ),
                SearchAttributePair(
                    SearchAttributeKey.for_keyword(SA_RUNBOOK), "restore-drill"
                ),
            ]
        ),
        static_summary=f"Restore drill of {args.env}",
        static_details=f"Started by {getpass.getuser()}: {args.reason}",
    )
    link = run_link(temporal_ui(args.ui), workflow_id, handle.result_run_id)
    print(
        f"started {workflow_id} ({link or 'no UI address known'}); waiting for it. "
        f"It runs when a worker polls task queue {args.task_queue}: odoo-dr worker",
        file=sys.stderr,
    )
    for area in args.sign_off:
        print(
            f"after validation it waits for: odoo-dr approve {workflow_id} "
            f"sign_off_{area} --as <person>",
            file=sys.stderr,
        )
    report = await handle.result()
    return report, link


def render_report(report: DrillReport) -> str:
    """The drill report as a person reads it in a terminal."""

    def seconds(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f} s"

    lines = [
        f"restore drill of {report.environment}: {report.verdict.upper()}",
        f"  run            {report.workflow_id} / {report.run_id}",
        f"  backup         {report.backup.backup_id if report.backup else 'none'}",
        f"  RTO            {seconds(report.rto_seconds)} "
        "(start to the copy passing validation)",
        f"  RPO            {seconds(report.rpo_seconds)} (newest commit lost)",
    ]
    if report.proven_at is not None and report.validated_at is not None:
        proof = (report.proven_at - report.validated_at).total_seconds()
        lines.append(
            f"  proof          held against production's fingerprint, "
            f"{proof:.1f} s after the RTO"
        )
    if report.failure:
        lines.append(f"  failure        {report.failure}")
    for step in report.steps:
        took = (step.ended_at - step.started_at).total_seconds() if step.ended_at else 0
        lines.append(f"  step  {step.outcome:<7} {took:7.1f} s  {step.name}")
    for table in report.tables:
        rows = "missing" if table.rows is None else str(table.rows)
        lines.append(
            f"  table {'ok' if table.ok else 'BAD':<7} {rows:>9}  {table.table}"
        )
    for gate in report.approvals:
        lines.append(f"  gate  {gate.outcome:<9} {gate.name}")
        for vote in gate.votes:
            signer = (
                f", signed by {vote.verified_signer}" if vote.verified_signer else ""
            )
            lines.append(
                f"        {vote.decision} by {vote.person} ({vote.role}) via "
                f"{vote.channel} at {vote.at:%Y-%m-%d %H:%M:%S} UTC{signer}"
            )
    lines.append(f"  copy torn down {report.torn_down}")
    return "\n".join(lines)


def report_json(report: DrillReport) -> str:
    """The report as stable, sorted JSON."""
    return json.dumps(report.model_dump(mode="json"), sort_keys=True, indent=2)
