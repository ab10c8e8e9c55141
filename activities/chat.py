"""Activities that reach people: the approval policy, and notices about gates.

A notice never decides anything: it tells people that a gate opened,
escalated or closed, and how to vote. Delivery retries; a notice that cannot
be delivered is logged by the workflow and the gate goes on waiting.
"""

from __future__ import annotations

from temporalio import activity

from odoo_dr.approvals import (
    ApprovalPlan,
    Escalation,
    GateNotice,
    GatePolicy,
    Person,
)
from odoo_dr.inventory import GateRule, Inventory


def _policy(rule: GateRule) -> GatePolicy:
    return GatePolicy(
        roles=list(rule.roles),
        quorum=rule.quorum,
        distinct_roles=rule.distinct_roles,
        two_person=rule.two_person,
        timeout=rule.timeout,
        escalation=[
            Escalation(after=step.after, notify=list(step.notify))
            for step in rule.escalation
        ],
        signed=rule.signed,
    )


class ChatActivities:
    """The people side of runbooks, bound to the worker's inventory."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def approval_plan(self, environment: str) -> ApprovalPlan:
        """The environment's approvers and gate rules, with public keys only.

        Reads the inventory; changes nothing; retrying is safe. No secret is
        in the plan: people, roles, Slack user ids and public keys.
        """
        settings = self._inventory.environment(environment).approvals
        return ApprovalPlan(
            people=[
                Person(
                    id=p.id,
                    name=p.name,
                    roles=list(p.roles),
                    slack_user=p.slack_user,
                    public_key=p.public_key,
                )
                for p in settings.people
            ],
            gates={name: _policy(rule) for name, rule in settings.gates.items()},
            default=_policy(settings.default) if settings.default else None,
            bridge_public_key=settings.bridge_public_key,
        )

    @activity.defn
    async def notify_gate(self, notice: GateNotice) -> None:
        """Tell the environment's chat channel about a gate.

        Posts a message; a repeated post after a retry is a duplicate notice,
        never a vote. Without a chat channel in the inventory, only logs.
        """
        activity.logger.info(
            "gate %s of %s %s; notifying %s",
            notice.gate.name,
            notice.workflow_id,
            notice.event,
            ", ".join(notice.audience),
        )
