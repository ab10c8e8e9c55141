"""Who may approve a runbook's gates, and whether a vote counts.

Pure and deterministic: the workflow's update validator calls
:func:`refusal` with the gate's state and the vote, and gets either None (the
vote counts) or the reason it is refused. Signatures are Ed25519 over
``run id|gate|decision|nonce``; the public keys come from the inventory
through the runbook's approval plan, so checking one needs no I/O.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field
from temporalio import workflow

Decision = Literal["approve", "reject"]
Channel = Literal["cli", "ui", "slack", "api"]
GateOutcome = Literal["open", "approved", "rejected", "timed_out"]

# The signer a vote names when the chat bridge vouches for a Slack user.
BRIDGE = "chat-bridge"


class Person(BaseModel):
    """Someone who may approve, with the roles they hold."""

    id: str
    name: str = ""
    roles: list[str]
    slack_user: str | None = None
    public_key: str | None = None


class Escalation(BaseModel):
    """Whom to notify when a gate is still open after ``after``."""

    after: timedelta
    notify: list[str]


class GatePolicy(BaseModel):
    """The rule of one gate: roles, quorum, two-person rule, timeout."""

    roles: list[str] = Field(min_length=1)
    quorum: int = Field(default=1, ge=1)
    distinct_roles: bool = False
    two_person: bool = True
    timeout: timedelta = timedelta(hours=1)
    escalation: list[Escalation] = []
    signed: bool = False
    people: list[str] = []  # when set, only these people may vote


class ApprovalPlan(BaseModel):
    """Everything a runbook needs to judge votes, read once from the inventory."""

    people: list[Person] = []
    gates: dict[str, GatePolicy] = {}
    default: GatePolicy | None = None
    bridge_public_key: str | None = None

    def policy(self, gate: str) -> GatePolicy | None:
        """The gate's own policy, else the default one."""
        return self.gates.get(gate, self.default)

    def person(self, person_id: str) -> Person | None:
        """The person with this id."""
        return next((p for p in self.people if p.id == person_id), None)


class Ballot(BaseModel):
    """What an approver sends to an open gate; the handler adds the decision."""

    gate: str
    request_id: str
    person: str
    role: str | None = None
    channel: Channel = "api"
    comment: str = Field(default="", max_length=500)
    nonce: str = Field(min_length=8, max_length=128)
    signature: str | None = None
    signer: str | None = None

    def as_vote(self, decision: Decision) -> Vote:
        """This ballot as an approval or a rejection."""
        return Vote(**self.model_dump(), decision=decision)


class Vote(Ballot):
    """A decision sent to an open gate."""

    decision: Decision


class RecordedVote(BaseModel):
    """A vote that counted: who, in which role, when, through what, signed by."""

    person: str
    role: str
    decision: Decision
    at: datetime
    channel: Channel
    comment: str = ""
    nonce: str
    verified_signer: str | None = None


class RefusedVote(BaseModel):
    """A vote that did not count (a refused signal is kept, with its reason)."""

    person: str
    decision: Decision
    at: datetime
    channel: Channel
    reason: str


class GateState(BaseModel):
    """One gate of a run: what it waits for and the votes so far."""

    name: str
    request_id: str
    what: str
    evidence: list[str] = []
    policy: GatePolicy
    opened_at: datetime
    outcome: GateOutcome = "open"
    closed_at: datetime | None = None
    votes: list[RecordedVote] = []
    refused: list[RefusedVote] = []
    escalated_to: list[str] = []

    @property
    def approvals(self) -> list[RecordedVote]:
        """The votes that approve."""
        return [v for v in self.votes if v.decision == "approve"]


def signed_message(run_id: str, gate: str, decision: Decision, nonce: str) -> bytes:
    """The bytes an approver (or the chat bridge) signs."""
    return f"{run_id}|{gate}|{decision}|{nonce}".encode()


def refusal(
    gate: GateState | None,
    vote: Vote,
    plan: ApprovalPlan,
    *,
    run_id: str,
    started_by: str,
    used_nonces: set[str],
) -> str | None:
    """Why ``vote`` must be refused, or None when it counts.

    Checks, in order: the gate is open and the request current, the person
    is known and holds an allowed role, no second vote by the same person,
    the two-person rule, distinct roles, a fresh nonce, the signature.
    """
    if gate is None:
        return f"no gate {vote.gate!r} is open in this run"
    if gate.outcome != "open":
        return f"gate {gate.name!r} is already closed ({gate.outcome})"
    if vote.request_id != gate.request_id:
        return (
            f"stale request {vote.request_id!r}: gate {gate.name!r} is now open "
            f"as request {gate.request_id!r}"
        )
    person = plan.person(vote.person)
    if person is None:
        return f"{vote.person!r} is not an approver of this environment"
    if gate.policy.people and person.id not in gate.policy.people:
        named = ", ".join(gate.policy.people)
        return f"only {named} may decide gate {gate.name!r}"
    if not _held_roles(gate, vote, person):
        allowed = ", ".join(gate.policy.roles)
        return f"{person.id} holds none of the roles this gate needs ({allowed})"
    if any(v.person == person.id for v in gate.votes):
        return f"{person.id} has already voted on gate {gate.name!r}"
    if vote.decision == "approve" and gate.policy.two_person:
        if person.id == started_by:
            return (
                f"two-person rule: {person.id} started this run and cannot "
                "approve its gates"
            )
    if chosen_role(gate, vote, person) is None:
        used = ", ".join(sorted({v.role for v in gate.approvals}))
        return (
            f"distinct roles: gate {gate.name!r} already has an approval as "
            f"{used}; the next one must come from another role"
        )
    if vote.nonce in used_nonces:
        return f"nonce {vote.nonce!r} was already used in this run"
    if gate.policy.signed:
        return _signature_refusal(vote, person, plan, run_id)
    return None


def chosen_role(gate: GateState, vote: Vote, person: Person) -> str | None:
    """The allowed role the vote is cast in, or None.

    A vote may name its role; otherwise the first allowed role of the person
    that no earlier approval used (when roles must be distinct).
    """
    allowed = _held_roles(gate, vote, person)
    if gate.policy.distinct_roles and vote.decision == "approve":
        used = {v.role for v in gate.approvals}
        allowed = [r for r in allowed if r not in used]
    return allowed[0] if allowed else None


def _held_roles(gate: GateState, vote: Vote, person: Person) -> list[str]:
    """The person's roles the gate allows (only the one the vote names, if any)."""
    held = [r for r in person.roles if r in gate.policy.roles]
    return [r for r in held if vote.role is None or r == vote.role]


def _signature_refusal(
    vote: Vote, person: Person, plan: ApprovalPlan, run_id: str
) -> str | None:
    if not vote.signature:
        return "this gate needs a signed vote; none was given"
    if vote.signer == BRIDGE:
        if vote.channel != "slack":
            return "only votes from Slack may be vouched for by the chat bridge"
        key, who = plan.bridge_public_key, "the chat bridge"
    else:
        key, who = person.public_key, person.id
    if not key:
        return f"no public key is configured for {who}"
    message = signed_message(run_id, vote.gate, vote.decision, vote.nonce)
    try:
        # cryptography's Rust core imports its InvalidSignature when it
        # raises; inside the workflow sandbox that import must reach the
        # module already loaded, not a second copy of the extension.
        with workflow.unsafe.imports_passed_through():
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key))
            public.verify(base64.b64decode(vote.signature), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return f"the signature is not {who}'s over this run, gate and decision"
    return None


def verified_signer(vote: Vote, gate: GateState) -> str | None:
    """Who signed a counted vote, for the report (None when unsigned)."""
    if not gate.policy.signed or not vote.signature:
        return None
    return f"{BRIDGE} for {vote.person}" if vote.signer == BRIDGE else vote.person


def outcome(gate: GateState) -> GateOutcome:
    """Approved at quorum; rejected by any allowed person's reject."""
    if any(v.decision == "reject" for v in gate.votes):
        return "rejected"
    if len(gate.approvals) >= gate.policy.quorum:
        return "approved"
    return "open"


class GateNotice(BaseModel):
    """What a notification about a gate says: the run, the gate, the votes."""

    environment: str
    runbook: str
    workflow_id: str
    run_id: str
    event: Literal["opened", "escalated", "closed"]
    audience: list[str]
    gate: GateState
