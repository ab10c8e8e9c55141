"""The evidence report every runbook ends with, in one versioned schema.

An auditor reads it long after the run: who started it and why, each step
with its times, who approved what, what business validation found, whether
each recovery tier's objectives were met, the figures particular to the
runbook, and how the stored copy is protected. The JSON form has one
canonical byte sequence; its SHA-256 is what the run's history records, so a
copy fetched later can be checked against the run that produced it.

Pure: no I/O, no clock, no randomness. Workflows build reports inside the
Temporal sandbox; the store activity adds the protection sentence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from odoo_dr.validation import CheckVerdict, Figure

if TYPE_CHECKING:
    # Only read here: the runbooks' reports will carry a StoredReport, so
    # importing their modules at run time would be a cycle.
    from odoo_dr.approvals import GateState
    from odoo_dr.cutover import RegionMoveReport
    from odoo_dr.inventory import RecoveryTier
    from odoo_dr.models import DrillReport, StepRecord
    from odoo_dr.validation import ValidationReport

SchemaVersion = Literal["odoo-dr.evidence/1"]
SCHEMA_VERSION: SchemaVersion = "odoo-dr.evidence/1"
# What a report says of its stored copy until the store activity has written it.
NOT_YET_STORED = "not stored yet: the protection of the stored copy is unknown"

RunVerdict = Literal["pass", "fail", "aborted", "dry_run"]
ObjectiveVerdict = Literal["met", "missed", "unknown"]
Measure = Literal["RTO", "RPO"]

# Characters kept as they are in a key segment; anything else becomes "_".
_UNSAFE_IN_KEY = re.compile(r"[^A-Za-z0-9._=-]")


class EvidenceStep(BaseModel):
    """One step of the run, as it happened."""

    name: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str
    detail: str = ""

    @property
    def seconds(self) -> float | None:
        """How long the step took, when it ended."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class EvidenceVote(BaseModel):
    """A vote that counted at a gate."""

    person: str
    role: str
    decision: str
    at: datetime
    channel: str
    comment: str = ""
    verified_signer: str | None = None


class EvidenceGate(BaseModel):
    """One approval gate: what it asked, how it closed, who decided."""

    gate: str
    outcome: str
    what: str
    opened_at: datetime
    closed_at: datetime | None = None
    votes: list[EvidenceVote] = []
    refused: list[str] = []  # votes that did not count, with the reason


class EvidenceCheck(BaseModel):
    """One business validation check's result.

    The records a check lists as examples are left out: they name employees
    and amounts, and the report is kept for years where many can read it.
    The run's history keeps them.
    """

    name: str
    area: str
    verdict: CheckVerdict
    critical: bool = True
    summary: str
    found: dict[str, Figure] = {}
    expected: dict[str, Figure] = {}
    hint: str = ""


class Measurement(BaseModel):
    """What the run measured of one objective, and how."""

    measure: Measure
    seconds: float | None
    basis: str


class Objective(BaseModel):
    """One recovery tier's objective held against what the run measured."""

    tier: str
    areas: list[str] = []
    measure: Measure
    objective_seconds: float
    measured_seconds: float | None
    verdict: ObjectiveVerdict

    @property
    def missed(self) -> str | None:
        """The objective missed, as a sentence; None when met or unknown."""
        if self.verdict != "missed" or self.measured_seconds is None:
            return None
        return (
            f"{self.measure} {self.measured_seconds:.0f} s exceeds the "
            f"{self.objective_seconds:.0f} s of tier {self.tier}"
        )


class Fact(BaseModel):
    """A figure particular to the runbook: a backup id, a WAL position."""

    label: str
    value: str


class TrendPoint(BaseModel):
    """One restore drill's RTO and RPO, a point of the trend across drills."""

    run_id: str
    started_at: datetime
    verdict: RunVerdict
    rto_seconds: float | None
    rpo_seconds: float | None


class EvidenceReport(BaseModel):
    """Everything an auditor needs to trust how one run went.

    ``trend`` is empty but for restore drills, where it holds the drills of
    the environment the run knew of and the run itself, oldest first.
    """

    schema_version: SchemaVersion = SCHEMA_VERSION
    runbook: str
    environment: str
    workflow_id: str
    run_id: str
    ui_url: str | None = None
    requested_by: str
    reason: str
    verdict: RunVerdict
    failure: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    steps: list[EvidenceStep] = []
    approvals: list[EvidenceGate] = []
    validation_verdict: str | None = None
    validation_target: str | None = None
    validation: list[EvidenceCheck] = []
    measurements: list[Measurement] = []
    objectives: list[Objective] = []
    facts: list[Fact] = []
    trend: list[TrendPoint] = []
    immutability: str = NOT_YET_STORED


class StoredReport(BaseModel):
    """Where a report was stored, its digest, and how it is protected.

    ``key`` is the common part of the three objects' keys; the JSON, HTML
    and Markdown forms add ``.json``, ``.html`` and ``.md``. ``sha256`` is
    the hex digest of the stored JSON's bytes.
    """

    bucket: str
    key: str
    sha256: str
    version_id: str | None = None
    retain_until: datetime | None = None
    object_lock: str

    @property
    def json_key(self) -> str:
        """The key of the JSON form, the one the digest covers."""
        return self.key + ".json"


def report_key(
    environment: str,
    runbook: str,
    workflow_id: str,
    run_id: str,
    started_at: datetime,
) -> str:
    """The key a run's report is stored under, without a suffix.

    ``evidence/<environment>/<runbook>/<YYYY>/<MM>/<workflow id>/<run id>``,
    the month of the run's start in UTC. A character that could split a
    segment (``/``, spaces, anything outside letters, digits and ``._=-``)
    becomes ``_``.

    Raises:
        ValueError: a segment is empty or only dots.
    """
    start = started_at.astimezone(UTC) if started_at.tzinfo else started_at
    segments = [
        f"{start:%Y}",
        f"{start:%m}",
        _key_segment(workflow_id),
        _key_segment(run_id),
    ]
    return evidence_prefix(environment, runbook) + "/".join(segments)


def evidence_prefix(environment: str, runbook: str) -> str:
    """The prefix, ending in ``/``, of every report of a runbook in an environment.

    Raises:
        ValueError: a segment is empty or only dots.
    """
    return f"evidence/{_key_segment(environment)}/{_key_segment(runbook)}/"


def _key_segment(value: str) -> str:
    segment = _UNSAFE_IN_KEY.sub("_", value)
    if not segment.strip("."):
        raise ValueError(f"{value!r} cannot be a segment of an evidence key")
    return segment


def canonical_json(report: EvidenceReport) -> bytes:
    """The report's one byte form: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        report.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# --- restore drill -----------------------------------------------------------


def evidence_from_drill(
    report: DrillReport,
    tiers: list[RecoveryTier],
    ui_url: str | None,
    trend: list[TrendPoint] | None = None,
) -> EvidenceReport:
    """The evidence of a restore drill.

    ``trend`` is the environment's past drills (the ``drill_trend``
    activity reads them from the store); the report's trend adds this drill
    to them.
    """
    measured = [_drill_rto(report), _drill_rpo(report)]
    evidence = _evidence(
        report, report.finished_at, measured, tiers, _drill_facts(report), ui_url
    )
    points = trend_through(trend or [], trend_point(evidence))
    return evidence.model_copy(update={"trend": points})


def trend_point(report: EvidenceReport) -> TrendPoint:
    """The run's point in the trend: when it began, its verdict, RTO and RPO."""
    seconds: dict[Measure, float | None] = {
        m.measure: m.seconds for m in report.measurements
    }
    return TrendPoint(
        run_id=report.run_id,
        started_at=report.started_at,
        verdict=report.verdict,
        rto_seconds=seconds.get("RTO"),
        rpo_seconds=seconds.get("RPO"),
    )


def trend_through(past: list[TrendPoint], this: TrendPoint) -> list[TrendPoint]:
    """The past drills and this one, each run once, oldest first.

    The same points in any order give the same list, and so the same
    canonical JSON.
    """
    runs = {point.run_id: point for point in past if point.run_id != this.run_id}
    runs[this.run_id] = this
    return trend_order(list(runs.values()))


def trend_order(points: list[TrendPoint]) -> list[TrendPoint]:
    """The points oldest first: by the runs' start, then their run id."""
    return sorted(points, key=lambda p: (_utc(p.started_at), p.run_id))


def _utc(value: datetime) -> datetime:
    # A time without a zone is taken as UTC, the zone every run records.
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _evidence(
    report: DrillReport | RegionMoveReport,
    ended_at: datetime | None,
    measured: list[Measurement],
    tiers: list[RecoveryTier],
    facts: list[Fact],
    ui_url: str | None,
) -> EvidenceReport:
    """What every runbook's evidence says, from the fields all reports share."""
    validation = report.validation
    return EvidenceReport(
        runbook=report.runbook,
        environment=report.environment,
        workflow_id=report.workflow_id,
        run_id=report.run_id,
        ui_url=ui_url,
        requested_by=report.requested_by,
        reason=report.reason,
        verdict=report.verdict,
        failure=report.failure,
        started_at=report.started_at,
        ended_at=ended_at,
        steps=evidence_steps(report.steps),
        approvals=evidence_gates(report.approvals),
        validation_verdict=validation.verdict if validation else None,
        validation_target=validation.target if validation else None,
        validation=evidence_checks(validation),
        measurements=measured,
        objectives=objectives(tiers, {m.measure: m.seconds for m in measured}),
        facts=facts,
    )


def _drill_rto(report: DrillReport) -> Measurement:
    basis = (
        "from the drill's start to its restored copy passing business "
        "validation: choosing the backup, restoring it, replaying WAL, "
        "neutralizing the copy and checking its books; the comparison with "
        "production's fingerprint follows and is not counted, since a real "
        "recovery has no production to compare with"
    )
    if report.rto_seconds is None:
        basis += "; not measured, because the copy never passed validation"
    return Measurement(measure="RTO", seconds=report.rto_seconds, basis=basis)


def _drill_rpo(report: DrillReport) -> Measurement:
    basis = (
        "production's newest commit when the drill began minus the newest "
        "commit the restored copy recovered"
    )
    if report.rpo_seconds is None:
        basis += "; not measured, because one of the two commit times is unknown"
    return Measurement(measure="RPO", seconds=report.rpo_seconds, basis=basis)


def _drill_facts(report: DrillReport) -> list[Fact]:
    facts: list[Fact] = []
    if report.backup is not None:
        backup = report.backup
        facts.append(Fact(label="base backup", value=backup.backup_id))
        if backup.end_time is not None:
            facts.append(Fact(label="backup finished", value=moment(backup.end_time)))
        if backup.size_bytes is not None:
            facts.append(Fact(label="backup size", value=f"{backup.size_bytes:,} B"))
    if report.primary is not None:
        facts.append(
            Fact(
                label="production WAL position at start",
                value=f"{report.primary.wal_lsn} on {report.primary.node}",
            )
        )
    if report.recovered is not None:
        recovered = report.recovered
        facts += [
            Fact(
                label="recovered to WAL position",
                value=f"{recovered.replay_lsn} (timeline {recovered.timeline})",
            ),
            Fact(
                label="newest recovered commit",
                value=moment(recovered.newest_commit),
            ),
            Fact(label="WAL replay took", value=f"{recovered.recovery_seconds:.1f} s"),
        ]
    if report.rpo_transactions is not None:
        facts.append(
            Fact(
                label="production transactions after the recovered point",
                value=str(report.rpo_transactions),
            )
        )
    if report.proven_at is not None and report.validated_at is not None:
        proof = (report.proven_at - report.validated_at).total_seconds()
        facts.append(
            Fact(
                label="proven against production's fingerprint",
                value=f"{moment(report.proven_at)}, {proof:.1f} s after the RTO",
            )
        )
    facts += _table_facts(report)
    facts.append(Fact(label="drill copy torn down", value=_yes(report.torn_down)))
    return facts


def _table_facts(report: DrillReport) -> list[Fact]:
    if not report.tables:
        return []
    missing = [t.table for t in report.tables if not t.ok]
    value = f"{len(report.tables) - len(missing)} of {len(report.tables)} present"
    if missing:
        value += "; missing or empty: " + ", ".join(missing)
    return [Fact(label="tables in the restored copy", value=value)]


# --- switchover, failover, failback ------------------------------------------


def evidence_from_region_move(
    report: RegionMoveReport, tiers: list[RecoveryTier], ui_url: str | None
) -> EvidenceReport:
    """The evidence of a switchover, failover or failback."""
    measured = [_region_move_rto(report), _region_move_rpo(report)]
    facts = _region_move_facts(report)
    return _evidence(report, report.ended_at, measured, tiers, facts, ui_url)


# Said of every region move's RTO: the runbook cannot see the incident begin.
_OWN_WINDOW = (
    "; the time before the runbook started (noticing the incident, deciding) "
    "is not counted"
)


def _region_move_rto(report: RegionMoveReport) -> Measurement:
    if report.unavailable_seconds is not None:
        return Measurement(
            measure="RTO",
            seconds=report.unavailable_seconds,
            basis="the write outage: from stopping writes in the old region to "
            "Odoo serving from the promoted primary" + _OWN_WINDOW,
        )
    validation = report.validation
    if validation is not None and validation.verdict != "fail":
        return Measurement(
            measure="RTO",
            seconds=(validation.finished_at - report.started_at).total_seconds(),
            basis="from the runbook's start to business validation passing on "
            "the new primary" + _OWN_WINDOW,
        )
    return Measurement(
        measure="RTO",
        seconds=None,
        basis="not measured: the run neither served from a promoted primary "
        "nor passed validation",
    )


def _region_move_rpo(report: RegionMoveReport) -> Measurement:
    loss = report.loss
    if loss is not None and loss.measured and loss.rpo_seconds is not None:
        return Measurement(
            measure="RPO",
            seconds=loss.rpo_seconds,
            basis="the span from the first to the last commit the old primary "
            "made after the fork point, read from its own WAL",
        )
    if report.lost_bytes_known and report.lost_bytes == 0:
        return Measurement(
            measure="RPO",
            seconds=0.0,
            basis="the promoted standby had replayed every byte of WAL the old "
            "primary wrote: nothing committed was lost",
        )
    if report.lost_bytes_known and report.lost_bytes:
        basis = (
            f"not measured in time: {report.lost_bytes:,} bytes of WAL were lost, "
            "but the commit times in them could not be read"
        )
    else:
        basis = "not measured: what the old primary wrote last could not be read"
    return Measurement(measure="RPO", seconds=None, basis=basis)


def _region_move_facts(report: RegionMoveReport) -> list[Fact]:
    facts: list[Fact] = []
    if report.preflight is not None:
        preflight = report.preflight
        facts.append(
            Fact(
                label="regions",
                value=f"from {preflight.source_region} ({preflight.source}) to "
                f"{preflight.target_region} ({preflight.target})",
            )
        )
    if report.fencing is not None:
        fencing = report.fencing
        value = f"{fencing.node}: {fencing.method.replace('_', ' ')}, " + (
            "confirmed" if fencing.confirmed else "NOT confirmed"
        )
        if fencing.final_lsn:
            value += f", final WAL position {fencing.final_lsn}"
        facts.append(Fact(label="old primary fenced", value=value))
    if report.promotion is not None:
        promotion = report.promotion
        facts.append(
            Fact(
                label="promoted",
                value=f"{promotion.node} at {promotion.lsn} (timeline "
                f"{promotion.timeline if promotion.timeline is not None else '?'})",
            )
        )
    facts += _loss_facts(report)
    if report.reprotection is not None:
        again = report.reprotection
        facts.append(
            Fact(
                label="old primary reprotected",
                value=f"{again.node} from {again.source}: "
                f"{again.method.replace('_', ' ')}, "
                + ("streaming" if again.streaming else "NOT streaming"),
            )
        )
    facts += _surroundings_facts(report)
    return facts


def _loss_facts(report: RegionMoveReport) -> list[Fact]:
    if report.verdict == "dry_run":
        return []
    lost = f"{report.lost_bytes:,}" if report.lost_bytes_known else "unknown"
    if not report.lost_bytes_known and report.lost_bytes is not None:
        lost += f" (replay lag at pre-flight: {report.lost_bytes:,})"
    facts = [Fact(label="WAL bytes lost", value=lost)]
    if report.loss is not None and report.loss.lost_transactions is not None:
        facts.append(
            Fact(
                label="committed transactions lost",
                value=str(report.loss.lost_transactions),
            )
        )
    if report.unavailable_seconds is not None:
        facts.append(
            Fact(label="write outage", value=f"{report.unavailable_seconds:.1f} s")
        )
    return facts


def _surroundings_facts(report: RegionMoveReport) -> list[Fact]:
    """Traffic, Redis, integrations and what was undone."""
    facts = [
        Fact(
            label=f"traffic ({change.kind})",
            value=f"{change.action} to region {change.region}"
            + (f": {change.target}" if change.target else ""),
        )
        for change in report.traffic
    ]
    if report.redis is not None:
        facts.append(
            Fact(
                label="Redis",
                value=f"{report.redis.action} in region {report.redis.region}",
            )
        )
    for check in report.integrations:
        state = {True: "answers", False: "FAILED", None: "not probed"}[check.ok]
        if check.confirmed:
            state += f"; owner {check.owner}: {check.confirmed.replace('_', ' ')}"
        facts.append(Fact(label=f"integration {check.name}", value=state))
    if report.compensated:
        facts.append(
            Fact(label="undone after the failure", value="; ".join(report.compensated))
        )
    return facts


# --- parts shared by every runbook -------------------------------------------


def evidence_steps(steps: list[StepRecord]) -> list[EvidenceStep]:
    """The run's steps, in order."""
    return [
        EvidenceStep(
            name=step.name,
            started_at=step.started_at,
            ended_at=step.ended_at,
            outcome=step.outcome,
            detail=step.detail,
        )
        for step in steps
    ]


def evidence_gates(gates: list[GateState]) -> list[EvidenceGate]:
    """Each gate with the votes that counted and those refused."""
    return [
        EvidenceGate(
            gate=gate.name,
            outcome=gate.outcome,
            what=gate.what,
            opened_at=gate.opened_at,
            closed_at=gate.closed_at,
            votes=[
                EvidenceVote(
                    person=vote.person,
                    role=vote.role,
                    decision=vote.decision,
                    at=vote.at,
                    channel=vote.channel,
                    comment=vote.comment,
                    verified_signer=vote.verified_signer,
                )
                for vote in gate.votes
            ],
            refused=[
                f"{r.decision} by {r.person} via {r.channel} at {moment(r.at)}: "
                f"{r.reason}"
                for r in gate.refused
            ],
        )
        for gate in gates
    ]


def evidence_checks(validation: ValidationReport | None) -> list[EvidenceCheck]:
    """Each validation check's result, without its example records."""
    if validation is None:
        return []
    return [
        EvidenceCheck(
            name=result.name,
            area=result.area,
            verdict=result.verdict,
            critical=result.critical,
            summary=result.summary,
            found=result.found,
            expected=result.expected,
            hint=result.hint,
        )
        for result in validation.results
    ]


def objectives(
    tiers: list[RecoveryTier], seconds: Mapping[Measure, float | None]
) -> list[Objective]:
    """Every tier's RTO and RPO against the seconds the run measured of each.

    A run measures the whole database once, so every tier is held against
    the same figures; an objective is met when the figure is at most the
    objective, and unknown when the run could not measure it.
    """
    rows: list[Objective] = []
    for tier in tiers:
        pairs: tuple[tuple[Measure, timedelta], ...] = (
            ("RTO", tier.rto),
            ("RPO", tier.rpo),
        )
        for measure, objective in pairs:
            target = objective.total_seconds()
            found = seconds.get(measure)
            rows.append(
                Objective(
                    tier=tier.name,
                    areas=list(tier.areas),
                    measure=measure,
                    objective_seconds=target,
                    measured_seconds=found,
                    verdict=objective_verdict(target, found),
                )
            )
    return rows


def objective_verdict(objective: float, measured: float | None) -> ObjectiveVerdict:
    """Met when ``measured`` is at most ``objective``; unknown without it."""
    if measured is None:
        return "unknown"
    return "met" if measured <= objective else "missed"


def moment(value: datetime | None) -> str:
    """A time as the report prints it, in UTC to the second."""
    if value is None:
        return "unknown"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _yes(value: bool) -> str:
    return "yes" if value else "NO"
