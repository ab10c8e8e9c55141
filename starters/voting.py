"""Sending a vote to a run: one Update, sent again when Temporal asks for it.

The server can fail the workflow task that carries a vote for a reason of
its own: another event (an activity's result, a second vote) reached the
run while the worker was answering, and the task is retried. The vote's
sender then gets a ``WorkflowNotReady`` error although nothing is wrong with
the vote. Sending it again under the same update id is safe: Temporal runs
an update id once and answers every sender with that one outcome.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from odoo_dr.approvals import Ballot, GateState

NOT_READY = "WorkflowNotReadyFailure"
SENDS = 6
FIRST_PAUSE_SECONDS = 0.2


async def send_vote(
    handle: WorkflowHandle[Any, Any], decision: str, ballot: Ballot, update_id: str
) -> GateState:
    """Send ``ballot`` as Update ``decision``; the closed or open gate back.

    Raises:
        WorkflowUpdateFailedError: the run's validator refused the vote.
        RPCError: the run cannot take it (ended, unknown), or it was still
            not ready after every resend.
    """
    for attempt in range(SENDS):
        try:
            return await handle.execute_update(
                decision, ballot, id=update_id, result_type=GateState
            )
        except RPCError as exc:
            if not _not_ready(exc) or attempt == SENDS - 1:
                raise
        await asyncio.sleep(FIRST_PAUSE_SECONDS * 2**attempt)
    raise AssertionError("unreachable: the last send returns or raises")


def _not_ready(exc: RPCError) -> bool:
    try:
        details = exc.grpc_status.details
    except Exception:  # an unparsable status is not the one we resend on
        return False
    return any(d.type_url.endswith(NOT_READY) for d in details)
