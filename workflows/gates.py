"""Approval gates: the one way every runbook waits for people.

A runbook owns a :class:`GateKeeper` and forwards its handlers to it: the
Updates ``approve`` and ``reject`` (refused synchronously by the validator,
with the reason, and never written to history when refused), the Signals
``approve_by_signal`` and ``reject_by_signal`` for the Temporal UI's "Send a
Signal" button (held to the same rules; a refused signal is kept with its
reason), and the query ``gates``. :meth:`GateKeeper.wait` opens a gate,
notifies, escalates at the policy's times and closes it as approved,
rejected or timed out. Silence never approves.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.chat import ChatActivities
    from odoo_dr.approvals import (
        ApprovalPlan,
        GateNotice,
        GateState,
        RecordedVote,
        RefusedVote,
        Vote,
        chosen_role,
        outcome,
        refusal,
        verified_signer,
    )
    from odoo_dr.errors import PRECONDITION_FAILED

# Notifications retry for a while, then give up: they never hold a gate.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)


class GateKeeper:
    """The gates of one run, their votes, and the rules that judge them."""

    def __init__(self, environment: str, runbook: str, started_by: str) -> None:
        """Set up before any handler can run (call from ``@workflow.init``)."""
        self.environment = environment
        self.runbook = runbook
        self.started_by = started_by
        self.plan = ApprovalPlan()
        self.gates: dict[str, GateState] = {}
        self._nonces: set[str] = set()
        self._openings = 0
        self._notices: list[asyncio.Task[None]] = []

    async def load_plan(self) -> None:
        """Read the environment's approval policy once; history keeps it."""
        self.plan = await workflow.execute_activity_method(
            ChatActivities.approval_plan,
            self.environment,
            start_to_close_timeout=timedelta(minutes=1),
            summary=f"Read the approval policy of {self.environment}",
        )

    def has_policy(self, gate: str) -> bool:
        """Whether the environment has a rule for ``gate`` (or a default)."""
        return self.plan.policy(gate) is not None

    def check(self, vote: Vote) -> None:
        """The update validator: refuse a vote that must not count.

        Raises:
            ValueError: with the reason; the caller sees it, history does not.
        """
        reason = self._refusal(vote)
        if reason is not None:
            raise ValueError(reason)

    def accept(self, vote: Vote) -> GateState:
        """Count a vote the validator let through; close the gate at its outcome."""
        gate = self.gates[vote.gate]
        person = self.plan.person(vote.person)
        role = chosen_role(gate, vote, person) if person else None
        gate.votes.append(
            RecordedVote(
                person=vote.person,
                role=role or "",
                decision=vote.decision,
                at=workflow.now(),
                channel=vote.channel,
                comment=vote.comment,
                nonce=vote.nonce,
                verified_signer=verified_signer(vote, gate),
            )
        )
        self._nonces.add(vote.nonce)
        gate.outcome = outcome(gate)
        if gate.outcome != "open":
            gate.closed_at = workflow.now()
        workflow.logger.info(
            "gate %s: %s %s as %s (%s)",
            gate.name,
            vote.person,
            vote.decision,
            role,
            gate.outcome,
        )
        return gate

    def accept_signal(self, vote: Vote) -> None:
        """A vote sent as a signal: counted, or kept as refused with the reason."""
        reason = self._refusal(vote)
        if reason is None:
            self.accept(vote)
            return
        workflow.logger.warning("gate %s: refused signal: %s", vote.gate, reason)
        gate = self.gates.get(vote.gate)
        if gate is not None:
            gate.refused.append(
                RefusedVote(
                    person=vote.person,
                    decision=vote.decision,
                    at=workflow.now(),
                    channel=vote.channel,
                    reason=reason,
                )
            )

    def open_gates(self) -> list[GateState]:
        """Every gate of the run so far, open ones first."""
        return sorted(self.gates.values(), key=lambda g: (g.outcome != "open", g.name))

    async def wait(self, name: str, what: str, evidence: list[str]) -> GateState:
        """Open gate ``name``, wait for its outcome, and return the closed gate.

        Escalates at each step of the policy; at the timeout the gate closes
        as ``timed_out``. The caller decides what a gate that is not
        approved means (abort safely, before anything irreversible).

        Raises:
            ApplicationError: the environment has no rule for this gate.
        """
        policy = self.plan.policy(name)
        if policy is None:
            raise ApplicationError(
                f"environment {self.environment} has no approval rule for gate "
                f"{name!r} and no default; add one under approvals in the inventory",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        self._openings += 1
        gate = GateState(
            name=name,
            request_id=f"{name}-{self._openings}",
            what=what,
            evidence=evidence,
            policy=policy,
            opened_at=workflow.now(),
        )
        self.gates[name] = gate
        self._notify(gate, "opened", policy.roles)
        for step in sorted(policy.escalation, key=lambda s: s.after):
            if await self._decided_within(gate, step.after):
                break
            gate.escalated_to += step.notify
            self._notify(gate, "escalated", step.notify)
        if not await self._decided_within(gate, policy.timeout):
            gate.outcome = "timed_out"
            gate.closed_at = workflow.now()
        self._notify(gate, "closed", policy.roles)
        return gate

    async def _decided_within(self, gate: GateState, since_open: timedelta) -> bool:
        remaining = gate.opened_at + since_open - workflow.now()
        if remaining <= timedelta(0):
            return gate.outcome != "open"
        try:
            await workflow.wait_condition(
                lambda: gate.outcome != "open", timeout=remaining
            )
        except TimeoutError:
            return False
        return True

    def _refusal(self, vote: Vote) -> str | None:
        return refusal(
            self.gates.get(vote.gate),
            vote,
            self.plan,
            run_id=workflow.info().run_id,
            started_by=self.started_by,
            used_nonces=self._nonces,
        )

    def _notify(
        self,
        gate: GateState,
        event: Literal["opened", "escalated", "closed"],
        audience: list[str],
    ) -> None:
        """Post a notice in the background: it never blocks or decides a gate."""
        info = workflow.info()
        notice = GateNotice(
            environment=self.environment,
            runbook=self.runbook,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            event=event,
            audience=audience,
            gate=gate.model_copy(deep=True),
        )
        self._notices.append(asyncio.create_task(self._post(notice)))

    async def _post(self, notice: GateNotice) -> None:
        try:
            await workflow.execute_activity_method(
                ChatActivities.notify_gate,
                notice,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=NOTIFY_RETRY,
                summary=f"Tell {', '.join(notice.audience)} that gate "
                f"{notice.gate.name} {notice.event}",
            )
        except ActivityError as exc:
            workflow.logger.warning(
                "notice of gate %s %s was not delivered: %s",
                notice.gate.name,
                notice.event,
                exc.cause or exc,
            )
