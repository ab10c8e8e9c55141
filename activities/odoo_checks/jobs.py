"""Jobs: what will run by itself once Odoo starts on this database?

Scheduled actions (``ir_cron``) send reminders, post entries and mail clients;
a recovery pauses some of them so that a copy or a half-checked primary does
not act on the world. The person in charge needs to see which ones are paused
for the recovery (to resume them at the end), which are paused for no reason
the runbook knows, and which the runbook paused but are active again.

OCA's ``queue_job`` runs background jobs (confirming payslips, sending bills).
A job that was 'started' on the old primary when the copy was taken never
finished there as far as this database knows: the job runner will requeue it
and run it again, which may send a mail or confirm a payslip twice.

Both checks only warn: nothing here is wrong data, only work to plan.
"""

from __future__ import annotations

from typing import Any

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import CheckResult

# Every scheduled action by name (a small table).
_CRONS = "SELECT cron_name, active, nextcall FROM ir_cron ORDER BY cron_name, id"

# Jobs still to run, and a few of the started ones, oldest start first.
# The state filter uses queue_job's index on state.
_QUEUE = """
    SELECT count(*) FILTER (WHERE state = 'started'),
           count(*) FILTER (WHERE state IN ('pending', 'enqueued')),
           count(*) FILTER (WHERE state = 'wait_dependencies'),
           ARRAY(
               SELECT jsonb_build_array(
                   uuid, func_string, name, channel, date_started::text)
               FROM queue_job
               WHERE state = 'started'
               ORDER BY date_started NULLS LAST, id
               LIMIT 10
           )
    FROM queue_job
    WHERE state IN ('started', 'pending', 'enqueued', 'wait_dependencies')
"""


def _cron_label(name: str | None, nextcall: Any) -> str:
    return f"'{name or 'unnamed'}' (next call {nextcall:%Y-%m-%d %H:%M})"


@check("jobs.paused_crons", "jobs", critical=False)
async def paused_crons(ctx: CheckContext, this: Check) -> CheckResult:
    """Scheduled actions paused for the recovery, and those paused otherwise.

    Crons the runbook paused (``expected.paused_crons``) are listed as paused
    for the recovery. It warns on a paused cron the runbook does not name, on
    a cron the runbook paused that is active again, and on a name the
    runbook paused that no cron has.
    """
    crons = await ctx.rows(_CRONS)
    by_runbook = set(ctx.expected.paused_crons)
    names = {name for name, _, _ in crons}
    for_recovery = [
        _cron_label(n, at) for n, on, at in crons if not on and n in by_runbook
    ]
    paused = [
        _cron_label(n, at) for n, on, at in crons if not on and n not in by_runbook
    ]
    resumed = [_cron_label(n, at) for n, on, at in crons if on and n in by_runbook]
    unknown = sorted(by_runbook - names)
    found = {
        "crons": len(crons),
        "paused": len(for_recovery) + len(paused),
        "paused_for_recovery": len(for_recovery),
        "paused_otherwise": len(paused),
        "resumed_before_the_end": len(resumed),
        "not_found": len(unknown),
    }
    examples = (
        [f"paused, not by the runbook: {label}" for label in paused]
        + [f"paused by the runbook but active again: {label}" for label in resumed]
        + [f"paused by the runbook but not found: '{name}'" for name in unknown]
        + [f"paused for the recovery: {label}" for label in for_recovery]
    )
    if paused or resumed or unknown:
        return this.result(
            "warn",
            f"{len(paused)} cron(s) paused that the runbook did not pause, "
            f"{len(resumed)} the runbook paused are active again, "
            f"{len(unknown)} the runbook paused are not found",
            found=found,
            examples=examples,
            hint="resume the crons the business needs once the recovery is "
            "accepted (Settings > Technical > Scheduled Actions); a cron "
            "active again too early may act on a copy that is not yet trusted",
        )
    if not for_recovery:
        return this.result("pass", f"all {len(crons)} crons are active", found=found)
    return this.result(
        "pass",
        f"{len(for_recovery)} of {len(crons)} crons are paused, all of them "
        "for the recovery",
        found=found,
        examples=examples,
        hint="resume the crons paused for the recovery once it is accepted",
    )


@check("jobs.started_queue_jobs", "jobs", critical=False, module="queue_job")
async def started_queue_jobs(ctx: CheckContext, this: Check) -> CheckResult:
    """Queue jobs left 'started', which the job runner will run again."""
    started, waiting, dependent, examples = await ctx.one(_QUEUE)
    found = {
        "started": started,
        "pending_or_enqueued": waiting,
        "waiting_for_dependencies": dependent,
    }
    if started:
        return this.result(
            "warn",
            f"{started} queue job(s) were running when this copy was taken; "
            "queue_job will requeue them and they will run again",
            found=found,
            expected={"started": 0},
            examples=[
                f"job {uuid} {func} '{name}' on {channel}, started {at}"
                for uuid, func, name, channel, at in examples or []
            ],
            hint="before the job runner starts, look at what each job does "
            "(Queue Jobs menu, by UUID): set to done those whose effect is "
            "already there, cancel those that must not run twice",
        )
    return this.result(
        "pass",
        f"no queue job was left running; {waiting} waiting job(s) will run "
        "when the job runner starts",
        found=found,
        expected={"started": 0},
    )


CHECKS: tuple[Check, ...] = (paused_crons, started_queue_jobs)
