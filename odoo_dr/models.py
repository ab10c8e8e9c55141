"""Inputs, results and status of runbooks, shared by workflows and activities.

Plain pydantic models: no clocks, no I/O, no default that reads the time, so
that they are safe inside the Temporal workflow sandbox. None holds a secret.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from odoo_dr.approvals import GateState
from odoo_dr.validation import ValidationReport

Verdict = Literal["pass", "fail", "aborted"]


class DrillInput(BaseModel):
    """Start a restore drill of ``environment``."""

    environment: str = Field(min_length=1)
    backup_id: str | None = None
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
    finished_at: datetime
    backup: BackupChoice | None = None
    primary: PrimaryPosition | None = None
    recovered: RecoveredPoint | None = None
    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    rpo_transactions: int | None = None
    tables: list[TableCount] = []
    validation: ValidationReport | None = None
    approvals: list[GateState] = []
    steps: list[StepRecord] = []
    torn_down: bool = False
