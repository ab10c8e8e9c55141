"""``odoo-dr drill schedule ...``: nightly restore drills on Temporal Schedules.

One schedule per environment, id ``restore-drill-<env>``, on a calendar in the
environment's time zone (``time_zone`` in the inventory). A drill still
running when the next one is due makes that one skip (overlap policy SKIP);
after an outage of Temporal, a drill missed less than the catch-up window ago
still runs. Pausing takes a note that the schedule keeps, so whoever finds it
paused knows why.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import timedelta
from typing import Any

from odoo_dr.errors import OdooDrError
from odoo_dr.inventory import Environment
from odoo_dr.models import DrillInput
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK, TASK_QUEUE
from starters.settings import read_inventory, temporal_target

_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def schedule_id(environment: str) -> str:
    """The id of an environment's drill schedule."""
    return f"restore-drill-{environment}"


def register(verbs: Any) -> None:
    """Add ``drill schedule`` and its verbs to the ``drill`` command group."""
    schedule = verbs.add_parser("schedule", help="nightly drills (Temporal Schedules)")
    actions = schedule.add_subparsers(title="schedule commands", metavar="ACTION")
    create = actions.add_parser("create", help="create or replace a drill schedule")
    _common(create, env_required=True)
    create.add_argument("--at", default="02:30", help="HH:MM local time (02:30)")
    create.add_argument(
        "--days", default="mon-sun", help="days, e.g. mon-fri or mon,wed,fri"
    )
    create.add_argument("--backup-choice", choices=["newest", "random"])
    create.add_argument("--catchup", default="1h", help="catch-up window (1h)")
    create.set_defaults(handler=_create)
    listing = actions.add_parser("list", help="drill schedules and their next runs")
    _common(listing, env_required=False)
    listing.set_defaults(handler=_list)
    for name, handler, text in (
        ("pause", _pause, "pause a drill schedule, with a note"),
        ("resume", _resume, "resume a paused drill schedule"),
        ("trigger", _trigger, "run a scheduled drill now"),
        ("delete", _delete, "delete a drill schedule"),
    ):
        parser = actions.add_parser(name, help=text)
        _common(parser, env_required=True)
        if name == "pause":
            parser.add_argument("--note", required=True, help="why it is paused")
        parser.set_defaults(handler=handler)


def _common(parser: argparse.ArgumentParser, *, env_required: bool) -> None:
    from starters.cli import add_inventory_argument

    add_inventory_argument(parser)
    parser.add_argument("--env", required=env_required, help="environment")
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument("--task-queue", default=TASK_QUEUE, help="workers' queue")


def calendar(at: str, days: str) -> dict[str, Any]:
    """``--at`` and ``--days`` as the fields of a schedule calendar.

    Raises:
        OdooDrError: a time or a day that cannot be read.
    """
    match = _AT.match(at.strip())
    if not match:
        raise OdooDrError(f"--at {at!r}: give a local time as HH:MM, e.g. 02:30")
    return {
        "hour": int(match.group(1)),
        "minute": int(match.group(2)),
        "days": _days(days),
    }


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise OdooDrError(
                f"--days {text!r}: use {', '.join(DAYS)}, ranges like mon-fri, "
                "or lists like mon,wed,fri"
            )
        start, end = DAYS.index(first), DAYS.index(last or first)
        # A range may wrap past Saturday: mon-sun, fri-mon.
        found += [day % 7 for day in range(start, end + 1 + (7 if end < start else 0))]
    return sorted(set(found))


def _duration(text: str) -> timedelta:
    match = re.match(r"^(\d+)(m|h|d)$", text.strip())
    if not match:
        raise OdooDrError(f"--catchup {text!r}: give minutes, hours or days: 90m, 2h")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(minutes=amount * {"m": 1, "h": 60, "d": 1440}[unit])


def _environment(args: argparse.Namespace) -> Environment:
    return read_inventory(args.inventory).environment(args.env)


def _create(args: argparse.Namespace) -> int:
    env = _environment(args)
    when = calendar(args.at, args.days)
    catchup = _duration(args.catchup)
    asyncio.run(_create_schedule(args, env, when, catchup))
    days = ",".join(DAYS[d] for d in when["days"])
    print(
        f"schedule {schedule_id(env.name)}: a restore drill of {env.name} at "
        f"{when['hour']:02d}:{when['minute']:02d} {env.time_zone} on {days}; "
        f"overlap skip, catch-up {args.catchup}"
    )
    return 0


async def _create_schedule(
    args: argparse.Namespace,
    env: Environment,
    when: dict[str, Any],
    catchup: timedelta,
) -> None:
    from temporalio.client import (
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleRange,
        ScheduleSpec,
        ScheduleState,
    )
    from temporalio.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )

    from workflows.drill import RestoreDrillWorkflow

    drill = DrillInput(
        environment=env.name,
        reason="nightly restore drill (schedule)",
        requested_by=f"schedule {schedule_id(env.name)}",
        backup_choice=args.backup_choice or "newest",
    )
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RestoreDrillWorkflow.run,
            drill,
            id=f"{schedule_id(env.name)}-scheduled",
            task_queue=args.task_queue,
            typed_search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(
                        SearchAttributeKey.for_keyword(SA_ENVIRONMENT), env.name
                    ),
                    SearchAttributePair(
                        SearchAttributeKey.for_keyword(SA_RUNBOOK), "restore-drill"
                    ),
                ]
            ),
            static_summary=f"Scheduled restore drill of {env.name}",
            static_details=f"Started by schedule {schedule_id(env.name)}: "
            "nightly proof that the backups restore",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(when["hour"])],
                    minute=[ScheduleRange(when["minute"])],
                    day_of_week=[ScheduleRange(d) for d in when["days"]],
                )
            ],
            time_zone_name=env.time_zone,
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=catchup
        ),
        state=ScheduleState(note=f"nightly restore drill of {env.name}"),
    )
    client = await _client(args)
    try:
        await client.create_schedule(schedule_id(env.name), schedule)
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id(env.name))
        await handle.update(lambda _: _replace(schedule))


def _replace(schedule: Any) -> Any:
    from temporalio.client import ScheduleUpdate

    return ScheduleUpdate(schedule=schedule)


async def _client(args: argparse.Namespace) -> Any:
    from worker.main import connect

    address = temporal_target(args.address)
    try:
        return await connect(address)
    except RuntimeError as exc:
        raise OdooDrError(f"cannot reach Temporal at {address}: {exc}") from None


def _list(args: argparse.Namespace) -> int:
    for line in asyncio.run(_list_lines(args)):
        print(line)
    return 0


async def _list_lines(args: argparse.Namespace) -> list[str]:
    client = await _client(args)
    wanted = schedule_id(args.env) if args.env else schedule_id("")
    lines = []
    async for entry in await client.list_schedules():
        if not entry.id.startswith(wanted):
            continue
        described = await client.get_schedule_handle(entry.id).describe()
        state = described.schedule.state
        upcoming = described.info.next_action_times[:1]
        nxt = f"{upcoming[0]:%Y-%m-%d %H:%M} UTC" if upcoming else "none"
        paused = f"PAUSED ({state.note})" if state.paused else "active"
        recent = described.info.recent_actions[-1:] if described.info else []
        last = f"{recent[0].started_at:%Y-%m-%d %H:%M} UTC" if recent else "never run"
        lines.append(f"{entry.id}  {paused}  next {nxt}  last {last}")
    return lines or [f"no drill schedule{' for ' + args.env if args.env else ''}"]


def _pause(args: argparse.Namespace) -> int:
    return _act(args, "pause", f"paused: {args.note}")


def _resume(args: argparse.Namespace) -> int:
    return _act(args, "unpause", "resumed")


def _trigger(args: argparse.Namespace) -> int:
    return _act(args, "trigger", "triggered: a drill starts now")


def _delete(args: argparse.Namespace) -> int:
    return _act(args, "delete", "deleted")


def _act(args: argparse.Namespace, verb: str, said: str) -> int:
    env = _environment(args)
    asyncio.run(_act_on(args, env.name, verb))
    print(f"schedule {schedule_id(env.name)} {said}")
    return 0


async def _act_on(args: argparse.Namespace, environment: str, verb: str) -> None:
    from temporalio.service import RPCError, RPCStatusCode

    client = await _client(args)
    handle = client.get_schedule_handle(schedule_id(environment))
    try:
        if verb == "pause":
            await handle.pause(note=args.note)
        elif verb == "unpause":
            await handle.unpause(note="resumed from the CLI")
        elif verb == "trigger":
            await handle.trigger()
        else:
            await handle.delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise OdooDrError(
                f"no drill schedule {schedule_id(environment)}: create it with "
                f"odoo-dr drill schedule create --env {environment}"
            ) from None
        raise OdooDrError(f"schedule {schedule_id(environment)}: {exc}") from None
