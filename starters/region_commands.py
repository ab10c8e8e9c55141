"""``odoo-dr switchover|failover|failback start``: move Odoo between regions.

Each starts its runbook under the environment's one region-move workflow id,
so a second start while one runs is refused with the running one's run id.
``--dry-run`` runs only the pre-flight and prints the plan; it changes
nothing and may run beside a region move.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from typing import Any

from odoo_dr.cutover import Preflight, RegionMoveInput, RegionMoveReport
from odoo_dr.errors import OdooDrError
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK, TASK_QUEUE
from starters.settings import read_inventory, run_link, temporal_target, temporal_ui

PLANS = {
    "switchover": [
        "approval (gate switchover)",
        "quiesce Odoo of the serving region",
        "fence the primary: clean shutdown, standby.signal",
        "wait until the standby has replayed the final checkpoint",
        "promote the standby (point of no return)",
        "point Odoo of the new region at it and resume",
        "validate business data",
        "rewind the old primary into a standby of the new one",
    ],
    "failover": [
        "approval (gate failover)",
        "quiesce what answers of the old region",
        "fence the old primary (stop, or read-only; unconfirmed needs an override)",
        "promote the standby (point of no return)",
        "point Odoo of the new region at it and resume",
        "validate business data",
    ],
    "failback": [
        "approval (gate failback)",
        "rewind the old primary into a standby of the serving one",
        "switch over to it, as a switchover does, without a second approval",
    ],
}


class RegionMoveRefused(OdooDrError):
    """A region move cannot start: another runs, or the input is wrong."""


def register(commands: Any) -> None:
    """Add the ``switchover``, ``failover`` and ``failback`` command groups."""
    from starters.cli import add_inventory_argument

    for runbook, summary in (
        ("switchover", "planned move of the primary to the other region"),
        ("failover", "unplanned move to the standby region"),
        ("failback", "rewind the old primary, then switch back to it"),
    ):
        group = commands.add_parser(runbook, help=summary)
        verbs = group.add_subparsers(title=f"{runbook} commands", metavar="VERB")
        start = verbs.add_parser("start", help=f"start a {runbook} and wait for it")
        add_inventory_argument(start)
        start.add_argument("--env", required=True, help="environment of the inventory")
        start.add_argument("--reason", required=True, help="why, for the report")
        start.add_argument("--to", dest="to_region", help="region to move to")
        start.add_argument("--incident", help="incident reference")
        start.add_argument(
            "--dry-run", action="store_true", help="pre-flight and plan only"
        )
        if runbook == "failover":
            start.add_argument(
                "--lag-override", help="written reason to accept lag over the RPO"
            )
            start.add_argument(
                "--fence-override",
                help="written reason to promote with the fence unconfirmed",
            )
        start.add_argument(
            "--no-reprotect", action="store_true", help=argparse.SUPPRESS
        )
        start.add_argument("--task-queue", default=TASK_QUEUE, help="workers' queue")
        start.add_argument("--address", help="Temporal frontend host:port")
        start.add_argument("--ui", help="Temporal web UI base address")
        start.add_argument("--json", action="store_true", help="print JSON")
        start.set_defaults(handler=_start, runbook=runbook)


def _start(args: argparse.Namespace) -> int:
    env = read_inventory(args.inventory).environment(args.env)
    if args.to_region and args.to_region not in env.regions:
        known = ", ".join(sorted(env.regions))
        raise RegionMoveRefused(
            f"environment {env.name} has no region {args.to_region!r} (known: {known})"
        )
    request = RegionMoveInput(
        environment=args.env,
        reason=args.reason,
        to_region=args.to_region,
        requested_by=getpass.getuser(),
        incident=args.incident,
        dry_run=args.dry_run,
        lag_override=getattr(args, "lag_override", None),
        fence_override=getattr(args, "fence_override", None),
        reprotect=not args.no_reprotect,
    )
    report = asyncio.run(_run(args, request))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(render(report))
    return 0 if report.verdict in ("pass", "dry_run") else 1


async def _run(args: argparse.Namespace, request: RegionMoveInput) -> RegionMoveReport:
    from temporalio.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from worker.main import connect
    from workflows.region_move import WORKFLOW_OF, region_move_id

    client = await connect(temporal_target(args.address))
    workflow_id = region_move_id(request.environment)
    if request.dry_run:
        workflow_id += f"-dry-run-{uuid.uuid4().hex[:6]}"
    attributes = TypedSearchAttributes(
        [
            SearchAttributePair(
                SearchAttributeKey.for_keyword(SA_ENVIRONMENT), request.environment
            ),
            SearchAttributePair(
                SearchAttributeKey.for_keyword(SA_RUNBOOK), args.runbook
            ),
        ]
    )
    try:
        handle = await client.start_workflow(
            WORKFLOW_OF[args.runbook].run,
            request,
            id=workflow_id,
            task_queue=args.task_queue,
            search_attributes=attributes,
            static_summary=f"{args.runbook.capitalize()} of {request.environment}",
            static_details=f"Reason: {request.reason}",
        )
    except WorkflowAlreadyStartedError:
        running = await client.get_workflow_handle(workflow_id).describe()
        raise RegionMoveRefused(
            f"a region move of {request.environment} is already running: "
            f"{running.workflow_type} {workflow_id} run {running.run_id}, started "
            f"{running.start_time:%Y-%m-%d %H:%M:%S} UTC; follow it with "
            f"odoo-dr status {workflow_id}"
        ) from None
    link = run_link(temporal_ui(args.ui), workflow_id, handle.result_run_id)
    print(f"started {workflow_id} ({link or 'no UI address known'})", file=sys.stderr)
    if not request.dry_run:
        gate = "failback" if args.runbook == "failback" else args.runbook
        how = f"odoo-dr approve {workflow_id} {gate} --as <person>"
        print(f"it waits for approval: {how}", file=sys.stderr)
    report: RegionMoveReport = await handle.result()
    return report


def render(report: RegionMoveReport) -> str:
    """The report as a person reads it in a terminal."""
    lines = [
        f"{report.runbook} of {report.environment}: {report.verdict.upper()}",
        f"  run        {report.workflow_id} / {report.run_id}",
        f"  reason     {report.reason} (by {report.requested_by})",
    ]
    if report.failure:
        lines.append(f"  failure    {report.failure}")
    if report.preflight:
        lines += _preflight_lines(report.preflight)
    if report.verdict == "dry_run":
        lines.append("  plan")
        lines += [f"    {n}. {step}" for n, step in enumerate(PLANS[report.runbook], 1)]
    for step in report.steps:
        took = (step.ended_at - step.started_at).total_seconds() if step.ended_at else 0
        lines.append(f"  step  {step.outcome:<7} {took:7.2f} s  {step.name}")
    if report.unavailable_seconds is not None:
        lines.append(f"  Odoo paused {report.unavailable_seconds:.2f} s")
    if report.lost_bytes is not None:
        known = (
            ""
            if report.lost_bytes_known or report.runbook == "switchover"
            else (" (at the last look at the old primary; it did not answer)")
        )
        lines.append(f"  lost WAL   {report.lost_bytes} bytes{known}")
    loss = report.loss
    if loss is not None and loss.measured:
        lines.append(
            f"  lost       {loss.lost_transactions} committed transactions "
            f"({loss.lost_bytes} bytes of WAL after {loss.fork_lsn}), "
            f"spanning {loss.rpo_seconds or 0:.1f} s"
        )
    lines += [f"  undone     {item}" for item in report.compensated]
    return "\n".join(lines)


def _preflight_lines(preflight: Preflight) -> list[str]:
    lines = [
        f"  move       {preflight.source} (region {preflight.source_region}) -> "
        f"{preflight.target} (region {preflight.target_region})",
        f"  paths      switchover {'open' if preflight.switchover_open else 'CLOSED'}"
        f", failover {'open' if preflight.failover_open else 'CLOSED'}"
        + (" (needs --lag-override)" if preflight.failover_needs_override else ""),
    ]
    for check in preflight.checks:
        mark = "ok " if check.ok else "NO "
        lines.append(f"  check {mark} {check.name}: {check.detail}")
    return lines
