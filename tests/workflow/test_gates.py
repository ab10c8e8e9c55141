"""Approval gates on the time-skipping server, through the drill's sign-off.

A restore drill with ``sign_off=["payroll"]`` opens the gate
``sign_off_payroll`` once the copy is validated. These tests vote on it the
ways people do (Updates from the CLI and the bridge, Signals from the UI),
and check what the validator refuses, what counts, and what the drill does
when the gate is approved, rejected, or left alone until it times out.
The clock only skips while a test awaits the run's result, so a gate stays
open for as long as a test takes to vote.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from odoo_dr.approvals import (
    BRIDGE,
    ApprovalPlan,
    Ballot,
    Escalation,
    GateNotice,
    GatePolicy,
    GateState,
    Person,
)
from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.signing import new_key_pair, new_nonce, sign_vote
from tests.workflow.test_drill_workflow import WORKFLOWS, FakeDrillActivities
from workflows.drill import RestoreDrillWorkflow

GATE = "sign_off_payroll"
ROLES = ["payroll_lead", "finance_controller"]
ALICE_KEY, ALICE_PUBLIC = new_key_pair()
BOB_KEY, BOB_PUBLIC = new_key_pair()
BRIDGE_KEY, BRIDGE_PUBLIC = new_key_pair()

Handle = WorkflowHandle[RestoreDrillWorkflow, DrillReport]


def approval_plan(**policy: Any) -> ApprovalPlan:
    """Four people; ``sign_off_payroll`` ruled by ``policy`` over ROLES."""
    return ApprovalPlan(
        people=[
            Person(id="alice", roles=["payroll_lead"], public_key=ALICE_PUBLIC),
            Person(id="bob", roles=["finance_controller"], public_key=BOB_PUBLIC),
            Person(id="carol", roles=ROLES),
            Person(id="erin", roles=["payroll_lead"]),
            Person(id="dave", roles=["dba"]),
        ],
        gates={GATE: GatePolicy(roles=ROLES, **policy)},
        bridge_public_key=BRIDGE_PUBLIC,
    )


QUORUM_OF_TWO_ROLES = {"quorum": 2, "distinct_roles": True}


class FakeGateActivities(FakeDrillActivities):
    """The drill's fakes, plus the approval plan and a record of gate notices."""

    def __init__(
        self, plan: ApprovalPlan, *, notices_fail: bool = False, **options: Any
    ) -> None:
        super().__init__(**options)
        self.plan = plan
        self.notices_fail = notices_fail
        # (server time the workflow asked for the notice, the notice)
        self.notices: list[tuple[datetime, GateNotice]] = []

    def all(self) -> list:
        return [*super().all(), self.approval_plan, self.notify_gate]

    @activity.defn(name="approval_plan")
    async def approval_plan(self, environment: str) -> ApprovalPlan:
        return self.plan

    @activity.defn(name="notify_gate")
    async def notify_gate(self, notice: GateNotice) -> None:
        info = activity.info()
        if info.attempt == 1:
            self.notices.append((info.scheduled_time, notice))
        if self.notices_fail:
            raise ApplicationError("chat is down")


def drill_input(**options: Any) -> DrillInput:
    """A drill started by carol with a payroll sign-off, unless told otherwise."""
    fields: dict[str, Any] = {
        "environment": "sandbox",
        "requested_by": "carol",
        "sign_off": ["payroll"],
    }
    return DrillInput(**{**fields, **options})


async def start(env: WorkflowEnvironment, queue: str, **options: Any) -> Handle:
    return await env.client.start_workflow(
        RestoreDrillWorkflow.run,
        drill_input(**options),
        id=f"gate-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
    )


def worker(
    env: WorkflowEnvironment, queue: str, fakes: FakeGateActivities, **options: Any
) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=fakes.all(),
        **options,
    )


@asynccontextmanager
async def drill(
    env: WorkflowEnvironment, fakes: FakeGateActivities, **options: Any
) -> AsyncIterator[Handle]:
    """A drill running on its own worker for the length of the block.

    A run still open at the end is terminated: its timers would otherwise
    fire with no worker to take them and stall the shared skipped clock.
    """
    queue = f"gate-{uuid.uuid4().hex[:6]}"
    async with worker(env, queue, fakes):
        handle = await start(env, queue, **options)
        try:
            yield handle
        finally:
            described = await handle.describe()
            if described.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate(reason="test over")


async def open_gate(handle: Handle, name: str = GATE) -> GateState:
    """The gate once the run has opened it (polls the ``gates`` query)."""
    return await until(handle, lambda gate: gate.outcome == "open", name)


async def until(
    handle: Handle, condition: Callable[[GateState], bool], name: str = GATE
) -> GateState:
    for _ in range(200):
        gates = await handle.query(RestoreDrillWorkflow.gates)
        gate = next((g for g in gates if g.name == name), None)
        if gate is not None and condition(gate):
            return gate
        await asyncio.sleep(0.05)
    raise AssertionError(f"gate {name} never reached the expected state")


def ballot(gate: GateState, person: str, **fields: Any) -> Ballot:
    defaults: dict[str, Any] = {"request_id": gate.request_id, "nonce": new_nonce()}
    return Ballot(gate=gate.name, person=person, **{**defaults, **fields})


def signed(handle: Handle, vote: Ballot, key: str, decision: str = "approve") -> Ballot:
    run_id = handle.result_run_id or ""
    signature = sign_vote(key, run_id, vote.gate, decision, vote.nonce)  # type: ignore[arg-type]
    return vote.model_copy(update={"signature": signature})


async def approve(handle: Handle, vote: Ballot, update_id: str = "") -> GateState:
    return await handle.execute_update(
        RestoreDrillWorkflow.approve,
        vote,
        id=update_id or f"vote-{uuid.uuid4().hex[:8]}",
    )


async def refused(handle: Handle, vote: Ballot, update: Any = None) -> str:
    """The validator's reason for refusing ``vote``; checks history kept no trace."""
    update_id = f"vote-{uuid.uuid4().hex[:8]}"
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            update or RestoreDrillWorkflow.approve, vote, id=update_id
        )
    history = [str(event) async for event in handle.fetch_history_events()]
    assert not [e for e in history if update_id in e or vote.nonce in e]
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def accepted_updates(handle: Handle) -> list[str]:
    """The ids of the updates history records as accepted, in order."""
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        async for e in handle.fetch_history_events()
        if e.event_type == accepted
    ]


def step_names(report: DrillReport) -> list[str]:
    return [s.name for s in report.steps]


# Votes that count


async def test_quorum_of_two_roles_approves_and_the_drill_passes(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        first = await approve(
            handle, ballot(gate, "alice", channel="cli", comment="payslips match")
        )
        assert first.outcome == "open"
        second = await approve(handle, ballot(gate, "bob", channel="slack"))
        assert second.outcome == "approved"
        report = await handle.result()

    assert report.verdict == "pass"
    (approved,) = report.approvals
    assert approved.outcome == "approved"
    assert [(v.person, v.role, v.channel, v.decision) for v in approved.votes] == [
        ("alice", "payroll_lead", "cli", "approve"),
        ("bob", "finance_controller", "slack", "approve"),
    ]
    assert approved.votes[0].comment == "payslips match"
    assert len(await accepted_updates(handle)) == 2


async def test_signed_vote_by_the_persons_key_counts_and_names_its_signer(env):
    fakes = FakeGateActivities(approval_plan(signed=True))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await approve(handle, signed(handle, ballot(gate, "alice"), ALICE_KEY))
        report = await handle.result()

    assert report.verdict == "pass"
    (vote,) = report.approvals[0].votes
    assert vote.verified_signer == "alice"


async def test_vote_from_slack_vouched_by_the_bridge_counts(env):
    fakes = FakeGateActivities(approval_plan(signed=True))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        vote = ballot(gate, "bob", channel="slack", signer=BRIDGE)
        await approve(handle, signed(handle, vote, BRIDGE_KEY))
        report = await handle.result()

    assert report.verdict == "pass"
    (counted,) = report.approvals[0].votes
    assert counted.verified_signer == "chat-bridge for bob"


async def test_allowed_signal_counts(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await handle.signal(
            RestoreDrillWorkflow.approve_by_signal, ballot(gate, "alice", channel="ui")
        )
        report = await handle.result()

    assert report.verdict == "pass"
    (vote,) = report.approvals[0].votes
    assert (vote.person, vote.channel) == ("alice", "ui")


async def test_retried_update_id_counts_once(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        vote = ballot(gate, "alice")
        first = await approve(handle, vote, update_id="alice-vote-1")
        retried = await approve(handle, vote, update_id="alice-vote-1")
        assert retried == first
        gate = await open_gate(handle)
        assert [v.person for v in gate.votes] == ["alice"]
        assert await accepted_updates(handle) == ["alice-vote-1"]


async def test_gate_keeps_its_votes_across_a_worker_restart(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    queue = f"gate-{uuid.uuid4().hex[:6]}"
    # Without a cache the first worker asks for no sticky queue: the Java test
    # server did not move the next task off a stopped worker's sticky queue
    # (waited over a minute), where a real server does after the sticky timeout.
    async with worker(env, queue, fakes, max_cached_workflows=0):
        handle = await start(env, queue)
        gate = await open_gate(handle)
        await approve(handle, ballot(gate, "alice"))

    # A new worker replays the run from history, alice's vote included.
    async with worker(env, queue, fakes):
        second = await approve(handle, ballot(gate, "bob"))
        report = await handle.result()

    assert second.outcome == "approved"
    assert [v.person for v in second.votes] == ["alice", "bob"]
    assert report.verdict == "pass"


async def test_failing_notices_neither_block_nor_decide_a_gate(env):
    fakes = FakeGateActivities(approval_plan(), notices_fail=True)
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        assert gate.votes == []
        await approve(handle, ballot(gate, "alice"))
        report = await handle.result()

    assert report.verdict == "pass"
    assert [v.person for v in report.approvals[0].votes] == ["alice"]


# Votes the validator refuses, with the reason, leaving no trace in history


async def test_starter_of_the_run_cannot_approve(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        reason = await refused(handle, ballot(gate, "carol"))
    assert reason == (
        "two-person rule: carol started this run and cannot approve its gates"
    )


async def test_unknown_approver_is_refused(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        reason = await refused(handle, ballot(gate, "mallory"))
    assert reason == "'mallory' is not an approver of this environment"


async def test_second_vote_by_the_same_person_is_refused(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await approve(handle, ballot(gate, "alice"))
        reason = await refused(handle, ballot(gate, "alice"))
    assert reason == "alice has already voted on gate 'sign_off_payroll'"


async def test_second_approval_in_the_same_role_is_refused(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await approve(handle, ballot(gate, "alice"))
        reason = await refused(handle, ballot(gate, "erin"))
    assert reason.startswith("distinct roles: gate 'sign_off_payroll' already has")
    assert "payroll_lead" in reason


async def test_vote_for_a_closed_gate_is_refused(env):
    fakes = FakeGateActivities(approval_plan())
    # The inspection window keeps the run going after the gate closed.
    async with drill(env, fakes, keep_copy_for=timedelta(hours=2)) as handle:
        gate = await open_gate(handle)
        await approve(handle, ballot(gate, "alice"))
        reason = await refused(handle, ballot(gate, "bob"))
        report = await handle.result()
    assert reason == "gate 'sign_off_payroll' is already closed (approved)"
    assert [v.person for v in report.approvals[0].votes] == ["alice"]


async def test_vote_for_a_gate_that_never_opened_is_refused(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        other = ballot(gate, "alice").model_copy(update={"gate": "sign_off_hr"})
        reason = await refused(handle, other)
    assert reason == "no gate 'sign_off_hr' is open in this run"


async def test_stale_request_is_refused(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        stale = ballot(gate, "alice", request_id=f"{GATE}-0")
        reason = await refused(handle, stale)
    assert reason.startswith(f"stale request '{GATE}-0'")
    assert f"now open as request '{gate.request_id}'" in reason


@pytest.mark.parametrize(
    ("person", "role"), [("dave", None), ("alice", "finance_controller")]
)
async def test_role_the_person_lacks_is_refused(env, person, role):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        reason = await refused(handle, ballot(gate, person, role=role))
    assert reason == (
        f"{person} holds none of the roles this gate needs "
        "(payroll_lead, finance_controller)"
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("another key", "the signature is not alice's over this run"),
        ("another decision", "the signature is not alice's over this run"),
        ("another run", "the signature is not alice's over this run"),
        ("not base64", "the signature is not alice's over this run"),
        ("unsigned", "this gate needs a signed vote; none was given"),
        ("bridge outside slack", "only votes from Slack may be vouched for"),
    ],
)
async def test_bad_signature_is_refused(env, case, expected):
    fakes = FakeGateActivities(approval_plan(signed=True))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        vote = ballot(gate, "alice", channel="cli")
        run_id = handle.result_run_id or ""
        signature = {
            "another key": sign_vote(BOB_KEY, run_id, GATE, "approve", vote.nonce),
            "another decision": sign_vote(
                ALICE_KEY, run_id, GATE, "reject", vote.nonce
            ),
            "another run": sign_vote(ALICE_KEY, "other", GATE, "approve", vote.nonce),
            "not base64": "not base64!",
            "unsigned": None,
            "bridge outside slack": sign_vote(
                BRIDGE_KEY, run_id, GATE, "approve", vote.nonce
            ),
        }[case]
        signer = BRIDGE if case == "bridge outside slack" else None
        vote = vote.model_copy(update={"signature": signature, "signer": signer})
        reason = await refused(handle, vote)
    assert reason.startswith(expected)


async def test_refused_signal_is_kept_with_its_reason(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await handle.signal(
            RestoreDrillWorkflow.approve_by_signal,
            ballot(gate, "mallory", channel="ui"),
        )
        gate = await until(handle, lambda g: bool(g.refused))
    assert gate.outcome == "open"
    assert gate.votes == []
    (kept,) = gate.refused
    assert (kept.person, kept.decision, kept.channel) == ("mallory", "approve", "ui")
    assert kept.reason == "'mallory' is not an approver of this environment"


# How a gate that is not approved ends the drill


async def test_reject_closes_the_gate_and_fails_the_drill_after_teardown(env):
    fakes = FakeGateActivities(approval_plan(**QUORUM_OF_TWO_ROLES))
    async with drill(env, fakes) as handle:
        gate = await open_gate(handle)
        await approve(handle, ballot(gate, "alice"))
        closed = await handle.execute_update(
            RestoreDrillWorkflow.reject,
            ballot(gate, "bob", comment="net pay differs"),
            id="bob-rejects",
        )
        report = await handle.result()

    assert closed.outcome == "rejected"
    assert report.verdict == "fail"
    assert report.failure is not None
    assert "sign-off of payroll rejected" in report.failure
    assert report.torn_down and len(fakes.torn_down) == 1
    assert report.rto_seconds is None and report.validated_at is None


ESCALATING = {
    "timeout": timedelta(hours=1),
    "escalation": [
        Escalation(after=timedelta(minutes=45), notify=["cto"]),
        Escalation(after=timedelta(minutes=15), notify=["incident_commander"]),
    ],
}


async def test_silent_gate_escalates_at_the_policys_times(env):
    fakes = FakeGateActivities(approval_plan(**ESCALATING))
    async with drill(env, fakes) as handle:
        await handle.result()

    sent = [(at, n.event, n.audience) for at, n in fakes.notices]
    opened_at = fakes.notices[0][1].gate.opened_at
    since_open = [
        (round((at - opened_at) / timedelta(minutes=1)), e, a) for at, e, a in sent
    ]
    assert since_open == [
        (0, "opened", ROLES),
        (15, "escalated", ["incident_commander"]),
        (45, "escalated", ["cto"]),
        (60, "closed", ROLES),
    ]
    # The skipped clock is exact to within the time a workflow task takes.
    for (at, _, _), (minutes, _, _) in zip(sent, since_open, strict=True):
        assert abs(at - opened_at - timedelta(minutes=minutes)) < timedelta(seconds=5)


async def test_silent_gate_times_out_and_aborts_with_the_copy_torn_down(env):
    fakes = FakeGateActivities(approval_plan(**ESCALATING))
    async with drill(env, fakes) as handle:
        report = await handle.result()

    (gate,) = report.approvals
    assert gate.outcome == "timed_out"
    assert gate.votes == []
    assert gate.closed_at is not None
    # Closed by the timer, a workflow task after the hour.
    assert (
        timedelta(hours=1)
        <= gate.closed_at - gate.opened_at
        < timedelta(hours=1, seconds=5)
    )
    assert gate.escalated_to == ["incident_commander", "cto"]
    assert report.verdict == "fail"
    assert report.failure is not None
    assert "sign-off of payroll timed out" in report.failure
    # Nothing ran after the gate but the teardown.
    names = step_names(report)
    assert names[names.index("sign-off of payroll") + 1 :] == ["tear down copy"]
    assert report.torn_down and len(fakes.torn_down) == 1


async def test_sign_off_without_a_rule_fails_before_restoring(env):
    fakes = FakeGateActivities(approval_plan())
    async with drill(env, fakes, sign_off=["payroll", "hr"]) as handle:
        report = await handle.result()

    assert report.verdict == "fail"
    assert report.failure is not None
    assert "no approval rule for sign-off of hr" in report.failure
    assert "restore base backup" not in step_names(report)
    assert report.approvals == []
    assert fakes.notices == []
