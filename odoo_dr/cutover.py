"""What region moves (switchover, failover, failback) observe, decide and do.

Plain pydantic models shared by the region-move workflows and the
activities on PostgreSQL, the app tier and traffic. None holds a secret;
none reads a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from odoo_dr.approvals import GateState
from odoo_dr.evidence import StoredReport
from odoo_dr.models import StepRecord
from odoo_dr.validation import ValidationReport


class NodeState(BaseModel):
    """One PostgreSQL node as seen right now."""

    name: str
    region: str
    host: str
    port: int
    reachable: bool
    error: str | None = None
    in_recovery: bool | None = None
    wal_lsn: str | None = None  # current (primary) or replayed (standby)
    receive_lsn: str | None = None
    timeline: int | None = None
    streaming_from: str | None = None  # host:port of the WAL sender, if any
    read_only: bool | None = None
    archived_at: datetime | None = None
    archive_failures: int | None = None
    last_commit: datetime | None = None  # newest commit, or newest replayed one
    modules: dict[str, str] = {}  # installed Odoo module -> version

    @property
    def writable(self) -> bool:
        """Answers and accepts writes: a primary not fenced read-only."""
        return bool(self.reachable and self.in_recovery is False and not self.read_only)


class PairState(BaseModel):
    """Every node of an environment, and what follows for a region move."""

    environment: str
    nodes: list[NodeState]
    lag_bytes: int | None = None
    lag_seconds: float | None = None

    def node(self, name: str) -> NodeState:
        """The state of one node by name."""
        return next(n for n in self.nodes if n.name == name)

    def primaries(self) -> list[NodeState]:
        """Nodes that answer and are not in recovery."""
        return [n for n in self.nodes if n.reachable and n.in_recovery is False]

    def serving_region(self) -> str | None:
        """The region of the only primary, if exactly one answers."""
        found = self.primaries()
        return found[0].region if len(found) == 1 else None


class Preflight(BaseModel):
    """The facts shown before anyone approves, and which paths are open."""

    pair: PairState
    source_region: str
    target_region: str
    source: str  # the node that serves now (or served, when it is down)
    source_answers: bool
    target: str  # node name of the standby to promote
    rpo_budget_seconds: float | None
    checks: list[PreflightCheck]
    switchover_open: bool
    failover_open: bool
    failover_needs_override: bool

    def blocking(self, path: Literal["switchover", "failover"]) -> list[str]:
        """The failed checks that close ``path``, as sentences."""
        return [
            f"{c.name}: {c.detail}"
            for c in self.checks
            if not c.ok and path in c.blocks
        ]


class PreflightCheck(BaseModel):
    """One pre-flight fact: passed or not, what was found, what it closes."""

    name: str
    ok: bool
    detail: str
    blocks: list[Literal["switchover", "failover"]] = []


class Fencing(BaseModel):
    """What was done to keep the old primary from taking writes."""

    node: str
    method: Literal["stopped", "read_only", "already_down", "unreachable"]
    confirmed: bool
    final_lsn: str | None = None  # the shutdown checkpoint, when stopped cleanly
    was_running: bool = False
    detail: str = ""


class Promotion(BaseModel):
    """The standby that became primary."""

    node: str
    already_primary: bool
    timeline: int | None
    lsn: str
    replayed_lsn: str | None = None  # where its replay ended: the fork point
    promoted_at: datetime


class DataLoss(BaseModel):
    """What the old primary committed that the promoted standby never got.

    Read from the old primary's own WAL after the fork point, when its data
    directory can be read: WAL bytes, commit records and their times.
    """

    node: str
    measured: bool
    fork_lsn: str
    end_lsn: str | None = None
    lost_bytes: int | None = None
    lost_transactions: int | None = None
    first_lost_commit: datetime | None = None
    last_lost_commit: datetime | None = None
    detail: str = ""

    @property
    def rpo_seconds(self) -> float | None:
        """The span of committed work lost."""
        if self.first_lost_commit is None or self.last_lost_commit is None:
            return 0.0 if self.lost_transactions == 0 else None
        return (self.last_lost_commit - self.first_lost_commit).total_seconds()


class Reprotection(BaseModel):
    """The old primary turned into a standby of the new one."""

    node: str
    source: str
    method: Literal["rewind", "no_rewind_needed", "already_standby"]
    streaming: bool
    detail: str = ""


class AppTierStep(BaseModel):
    """What one app-tier deployment did in a step."""

    deployment: str
    region: str
    action: Literal["quiesced", "pointed", "resumed", "unchanged", "skipped"]
    replicas_before: int | None = None
    detail: str = ""


class IntegrationCheck(BaseModel):
    """One integration after a move: its probe, and its owner's answer."""

    name: str
    kind: str
    ok: bool | None  # None: not probed (a task for its owner)
    detail: str
    owner: str | None = None
    confirmed: str | None = None  # the owner's gate: approved, rejected, timed_out


class TrafficChange(BaseModel):
    """Where users were sent: the ingress or DNS record, before and after."""

    kind: Literal["traefik-file", "route53", "none"]
    region: str
    action: Literal["routed", "unchanged", "skipped"]
    target: str | None = None
    previous: str | None = None
    detail: str = ""


class RedisChange(BaseModel):
    """What a region move did to Redis (sessions and caches, no records)."""

    action: Literal["flushed", "kept", "skipped"]
    region: str
    address: str | None = None
    keys_dropped: int = 0
    detail: str = ""


class RegionMoveInput(BaseModel):
    """Start a switchover, failover or failback of ``environment``.

    Typed in the Temporal UI as a small JSON object; everything else has a
    safe default.
    """

    environment: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    to_region: str | None = None  # default: the region that does not serve
    requested_by: str = "unknown"
    incident: str | None = None
    dry_run: bool = False
    lag_override: str | None = None  # a written reason to fail over over budget
    fence_override: str | None = None  # a reason to promote with fencing unconfirmed
    validate_business: bool = True
    reprotect: bool = True


class RegionMoveReport(BaseModel):
    """How a region move went: decisions, steps, loss, what was undone."""

    environment: str
    runbook: Literal["switchover", "failover", "failback"]
    workflow_id: str
    run_id: str
    requested_by: str
    reason: str
    verdict: Literal["pass", "fail", "aborted", "dry_run"]
    failure: str | None = None
    preflight: Preflight | None = None
    fencing: Fencing | None = None
    promotion: Promotion | None = None
    reprotection: Reprotection | None = None
    app_tier: list[AppTierStep] = []
    traffic: list[TrafficChange] = []
    redis: RedisChange | None = None
    compensated: list[str] = []
    validation: ValidationReport | None = None
    integrations: list[IntegrationCheck] = []
    approvals: list[GateState] = []
    steps: list[StepRecord] = []
    lost_bytes: int | None = None
    lost_bytes_known: bool = False
    loss: DataLoss | None = None
    unavailable_seconds: float | None = None
    started_at: datetime
    ended_at: datetime | None = None
    evidence: StoredReport | None = None
    evidence_error: str | None = None


Preflight.model_rebuild()
