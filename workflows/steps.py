"""One runbook step: an activity with its record in the run's status.

Every runbook shows, in its ``status`` query, each step with its start,
end, outcome and, on failure, why. :func:`run_step` runs the activity and
keeps that record; :func:`describe_failure` says why a step failed in one
line a person can read.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from odoo_dr.models import RunbookStatus, StepRecord


async def run_step(
    status: RunbookStatus,
    name: str,
    activity: Any,
    *args: Any,
    result_type: Any,
    retry: RetryPolicy,
    timeout: timedelta = timedelta(minutes=10),
    heartbeat: timedelta = timedelta(seconds=30),
    local: bool = False,
) -> Any:
    """Run ``activity`` as step ``name`` of the run, recorded in ``status``.

    ``result_type`` None returns the activity's result as decoded JSON.
    ``local`` runs it as a local activity, in the worker that runs the
    workflow, without a round trip through the server: for short,
    idempotent steps where seconds count (a crashed worker's replacement
    runs the step again).
    """
    record = StepRecord(name=name, started_at=workflow.now())
    status.step = name
    status.steps.append(record)
    try:
        if local:
            result = await workflow.execute_local_activity(
                activity,
                args=list(args),
                result_type=result_type,
                start_to_close_timeout=timeout,
                retry_policy=retry,
                summary=name,
            )
        else:
            result = await workflow.execute_activity(
                activity,
                args=list(args),
                result_type=result_type,
                start_to_close_timeout=timeout,
                heartbeat_timeout=heartbeat,
                retry_policy=retry,
                summary=name,
            )
    except (Exception, asyncio.CancelledError) as exc:
        # Not GeneratorExit: an eviction from the worker's cache is no failure.
        record.outcome = "failed"
        record.detail = describe_failure(exc)
        record.ended_at = workflow.now()
        raise
    record.outcome = "done"
    record.ended_at = workflow.now()
    return result


def describe_failure(exc: BaseException) -> str:
    """Why a step failed: the activity's or child's own error, with its type."""
    cause: BaseException | None = exc
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause or exc)


def show_details(status: RunbookStatus, requested_by: str, reason: str) -> None:
    """What the UI's "Current details" shows: who, why, where the run is now."""
    where = f"Phase: {status.phase}" + (f"; step: {status.step}" if status.step else "")
    waiting = f"\nWaiting for: {status.waiting_for}" if status.waiting_for else ""
    workflow.set_current_details(
        f"**{status.runbook}** of **{status.environment}**, started by "
        f"{requested_by}: {reason}\n{where}{waiting}"
    )


def leave_unused(step: asyncio.Future[Any]) -> None:
    """Take the outcome of a step that nothing awaits, so none goes unseen.

    For a done-callback: a step left running when the run no longer needs
    it ends on its own. It is not cancelled: the time-skipping test server
    was seen to wait for ever on such a cancel.
    """
    if not step.cancelled():
        step.exception()
