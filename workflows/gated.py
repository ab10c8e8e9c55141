"""The approval handlers every gated runbook exposes, in one base class.

A runbook that inherits :class:`GatedRunbook` and sets ``self._gates`` in
its ``@workflow.init`` answers the ``gates`` query, the ``approve`` and
``reject`` Updates (with validators) and the signals the Temporal UI sends.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from odoo_dr.approvals import Ballot, GateState
    from workflows.gates import GateKeeper


class GatedRunbook:
    """Queries, Updates and Signals of a runbook's approval gates."""

    _gates: GateKeeper

    @workflow.query
    def gates(self) -> list[GateState]:
        """The run's approval gates, open ones first, with their votes."""
        return self._gates.open_gates()

    @workflow.update
    def approve(self, ballot: Ballot) -> GateState:
        """Approve an open gate (refused by the validator if it may not)."""
        return self._gates.accept(ballot.as_vote("approve"))

    @approve.validator
    def _check_approve(self, ballot: Ballot) -> None:
        self._gates.check(ballot.as_vote("approve"))

    @workflow.update
    def reject(self, ballot: Ballot) -> GateState:
        """Reject an open gate: one allowed rejection closes it."""
        return self._gates.accept(ballot.as_vote("reject"))

    @reject.validator
    def _check_reject(self, ballot: Ballot) -> None:
        self._gates.check(ballot.as_vote("reject"))

    @workflow.signal
    def approve_by_signal(self, ballot: Ballot) -> None:
        """Approve from the UI's "Send a Signal"; a refused one is kept."""
        self._gates.accept_signal(ballot.as_vote("approve"))

    @workflow.signal
    def reject_by_signal(self, ballot: Ballot) -> None:
        """Reject from the UI's "Send a Signal"; a refused one is kept."""
        self._gates.accept_signal(ballot.as_vote("reject"))
