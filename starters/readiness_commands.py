"""``odoo-dr readiness``: can the environment still meet its recovery objectives?

Runs the readiness checks in this process, without a worker or Temporal:
they only read, and an operator wants the answer at once. Exit code 0 when
every check passes, 1 when one fails, 2 when the command was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import textwrap
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from odoo_dr.errors import OdooDrError
from odoo_dr.inventory import Duration
from odoo_dr.names import TASK_QUEUE
from odoo_dr.readiness import MAX_BACKUP_AGE, ReadinessReport, span
from starters.settings import read_inventory, temporal_target

EXIT_NOT_READY = 1
_CHECK_WIDTH = 17
_RESULT_WIDTH = 7


def register(commands: Any) -> None:
    """Add the ``readiness`` command."""
    from starters.cli import add_inventory_argument

    parser = commands.add_parser(
        "readiness",
        help="check that backups and WAL can still meet the recovery objectives",
    )
    add_inventory_argument(parser)
    parser.add_argument("--env", required=True, help="environment of the inventory")
    parser.add_argument(
        "--max-backup-age",
        default=None,
        metavar="DURATION",
        help=f"oldest acceptable base backup, e.g. 26h or 7d "
        f"(default {span(MAX_BACKUP_AGE.total_seconds())})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--schedule-every",
        metavar="DURATION",
        help="instead of checking now, have workers check every DURATION (e.g. "
        "15m) on a Temporal Schedule, alerting the chat channel when not ready",
    )
    parser.add_argument(
        "--unschedule", action="store_true", help="delete that schedule"
    )
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument("--task-queue", default=TASK_QUEUE, help="workers' queue")
    parser.set_defaults(handler=_readiness)


def readiness_schedule_id(environment: str) -> str:
    """The id of an environment's readiness schedule."""
    return f"readiness-{environment}"


def _readiness(args: argparse.Namespace) -> int:
    from activities.readiness import check_environment

    if args.schedule_every or args.unschedule:
        return _schedule(args)

    max_age = _duration(args.max_backup_age) if args.max_backup_age else MAX_BACKUP_AGE
    # check_environment refuses an unknown environment before any I/O.
    inventory = read_inventory(args.inventory)
    report = asyncio.run(check_environment(inventory, args.env, max_backup_age=max_age))
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0 if report.ready else EXIT_NOT_READY


def _duration(text: str) -> timedelta:
    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        raise OdooDrError(
            f"--max-backup-age {text!r} is not a duration (say 90m, 26h or 7d)"
        ) from None


def render(report: ReadinessReport, width: int | None = None) -> str:
    """The report as a table a person reads in a terminal."""
    width = width or max(72, shutil.get_terminal_size((100, 24)).columns)
    indent = " " * (2 + _CHECK_WIDTH + 1 + _RESULT_WIDTH + 1)
    verdict = "READY" if report.ready else "NOT READY"
    lines = [
        f"readiness of {report.environment} at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC: {verdict}",
        f"  {'CHECK':<{_CHECK_WIDTH}} {'RESULT':<{_RESULT_WIDTH}} DETAIL",
    ]
    for check in report.checks:
        result = "ok" if check.ok else "FAILED"
        head = f"  {check.name:<{_CHECK_WIDTH}} {result:<{_RESULT_WIDTH}} "
        lines += textwrap.wrap(
            check.detail, width, initial_indent=head, subsequent_indent=indent
        )
        if check.hint:
            lines += textwrap.wrap(
                f"hint: {check.hint}",
                width,
                initial_indent=indent,
                subsequent_indent=indent + "      ",
            )
    if report.objectives_at_risk:
        lines.append("  objectives at risk:")
        for sentence in report.objectives_at_risk:
            lines += textwrap.wrap(
                sentence, width, initial_indent="  - ", subsequent_indent="    "
            )
    return "\n".join(lines)


def _schedule(args: argparse.Namespace) -> int:
    env = read_inventory(args.inventory).environment(args.env)
    every = None if args.unschedule else _duration(args.schedule_every)
    if every is not None and every < timedelta(minutes=1):
        raise OdooDrError("--schedule-every must be at least 1m")
    asyncio.run(_apply_schedule(args, env.name, every))
    sid = readiness_schedule_id(env.name)
    if every is None:
        print(f"schedule {sid} deleted")
    else:
        often = span(every.total_seconds())
        print(f"schedule {sid}: readiness of {env.name} every {often}")
    return 0


async def _apply_schedule(
    args: argparse.Namespace, environment: str, every: timedelta | None
) -> None:
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleSpec,
        ScheduleUpdate,
    )
    from temporalio.service import RPCError, RPCStatusCode

    from worker.main import connect
    from workflows.readiness import ReadinessWorkflow

    address = temporal_target(args.address)
    try:
        client = await connect(address)
    except RuntimeError as exc:
        raise OdooDrError(f"cannot reach Temporal at {address}: {exc}") from None
    sid = readiness_schedule_id(environment)
    handle = client.get_schedule_handle(sid)
    if every is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            raise OdooDrError(f"no readiness schedule {sid}") from None
        return
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReadinessWorkflow.run,
            environment,
            id=f"{sid}-check",
            task_queue=args.task_queue,
            static_summary=f"Readiness check of {environment}",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(sid, schedule)
    except ScheduleAlreadyRunningError:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
