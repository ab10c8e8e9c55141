"""Inputs, results and status of runbooks, shared by workflows and activities.

Plain pydantic models: no clocks, no I/O, no default that reads the time, so
that they are safe inside the Temporal workflow sandbox. None holds a secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from odoo_dr.approvals import GateState
from odoo_dr.evidence import Objective, StoredReport
from odoo_dr.readiness import ReadinessReport
from odoo_dr.validation import ValidationReport

Verdict = Literal["pass", "fail", "aborted"]


class DrillInput(BaseModel):
    """Start a restore drill of ``environment``."""

    environment: str = Field(min_length=1)
    backup_id: str | None = None
    # Without backup_id: the newest, or any of those still in the store.
    backup_choice: Literal["newest", "random"] = "newest"
    recovery_target_time: AwareDatetime | None = None
    reason: str = "scheduled restore drill"
    requested_by: str = "unknown"
    incident: str | None = None
    keep_copy_for: timedelta = timedelta(0)
    validate_business: bool = True
    sign_off: list[str] = []


class PrimaryPosition(BaseModel):
    """Where production stood when the drill began."""

    node: str
    wal_lsn: str
    newest_commit: datetime | None
    observed_at: datetime
    # Odoo's database.uuid on production, which the copy must carry.
    database_uuid: str | None = None


class BackupChoice(BaseModel):
    """The base backup a drill restores."""

    backup_id: str
    begin_time: datetime | None
    end_time: datetime | None
    begin_wal: str | None
    end_wal: str | None
    size_bytes: int | None = None


class RestoredCopy(BaseModel):
    """An isolated PostgreSQL instance a drill built from a backup."""

    drill_id: str
    data_dir: str
    host: str
    port: int
    backup_id: str
    restored_bytes: int
    # Archived WAL files downloaded while the backup restored (none when the
    # archive could not be listed: each file then comes from barman-cloud).
    wal_fetched_ahead: int = 0
    # Until isolated, the copy answers only on its own Unix socket; after,
    # only its drill role (a generated password kept in the drill's folder)
    # over TCP on the drill host.
    isolated: bool = False


class Neutralization(BaseModel):
    """What was switched off in a copy before anything could connect to it."""

    crons_disabled: list[str]  # names, for validation to expect them paused
    mail_servers_disabled: int
    fetchmail_servers_disabled: int
    payment_providers_disabled: int
    drill_role: str
    listening: str  # where the copy accepts connections once isolated


class IsolatedCopy(BaseModel):
    """A copy after neutralization: how to reach it, and what was switched off."""

    restored: RestoredCopy
    neutralization: Neutralization


class RecoveredPoint(BaseModel):
    """How far the restored copy recovered."""

    replay_lsn: str
    newest_commit: datetime | None
    timeline: int
    recovery_seconds: float


class TableCount(BaseModel):
    """Rows of one table in the restored copy."""

    table: str
    rows: int | None
    ok: bool
    hint: str = ""


class StepRecord(BaseModel):
    """One step of a runbook as it happened."""

    name: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: Literal["running", "done", "failed", "skipped"] = "running"
    detail: str = ""


class RunbookStatus(BaseModel):
    """What the ``status`` query answers: phase, step, waits and timings."""

    runbook: str
    environment: str
    phase: str
    step: str | None = None
    waiting_for: str | None = None
    started_at: datetime
    steps: list[StepRecord] = []


class DrillReport(BaseModel):
    """What a restore drill found; every run ends with one, also a failed one."""

    schema_version: Literal[1] = 1
    runbook: Literal["restore-drill"] = "restore-drill"
    environment: str
    workflow_id: str
    run_id: str
    requested_by: str
    reason: str
    verdict: Verdict
    failure: str | None = None
    started_at: datetime
    validated_at: datetime | None = None
    # When the copy was also proven against production's fingerprint, after
    # the RTO: a drill's proof, which a real recovery cannot make.
    proven_at: datetime | None = None
    finished_at: datetime
    backup: BackupChoice | None = None
    readiness: ReadinessReport | None = None
    primary: PrimaryPosition | None = None
    recovered: RecoveredPoint | None = None
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_transactions: int | None = None
    tables: list[TableCount] = []
    neutralization: Neutralization | None = None
    validation: ValidationReport | None = None
    objectives: list[Objective] = []
    approvals: list[GateState] = []
    steps: list[StepRecord] = []
    torn_down: bool = False
    # Where the evidence report is, and its SHA-256 (also in the history).
    evidence: StoredReport | None = None
    evidence_error: str | None = None

    @field_validator("objectives", mode="before")
    @classmethod
    def _one_row_per_measure(cls, rows: object) -> object:
        """Read the reports of earlier releases, one row per tier (both measures)."""
        if not isinstance(rows, list):
            return rows
        return [row for old in rows for row in _objective_rows(old)]

    @property
    def missed(self) -> list[str]:
        """The objectives measured and missed, as sentences."""
        return [o.missed for o in self.objectives if o.missed]


def _objective_rows(row: object) -> list[object]:
    if not isinstance(row, dict) or "rto_objective_seconds" not in row:
        return [row]
    return [
        {
            "tier": row["tier"],
            "areas": row.get("areas", []),
            "measure": measure.upper(),
            "objective_seconds": row[f"{measure}_objective_seconds"],
            "measured_seconds": row[f"{measure}_seconds"],
            "verdict": {True: "met", False: "missed", None: "unknown"}[
                row[f"{measure}_met"]
            ],
        }
        for measure in ("rto", "rpo")
    ]


class RunNotice(BaseModel):
    """What chat is told when a runbook ends badly: the run and its reasons."""

    environment: str
    runbook: str
    workflow_id: str
    run_id: str
    verdict: str
    summary: str
    facts: list[str] = []
