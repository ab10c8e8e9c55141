"""The drill report as the CLI prints it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from odoo_dr.models import DrillReport
from starters.drill_commands import render_report

START = datetime(2026, 12, 4, 2, 30, tzinfo=UTC)


def _report(**changes: object) -> DrillReport:
    fields: dict[str, object] = dict(
        environment="prod",
        workflow_id="restore-drill-prod",
        run_id="run-1",
        requested_by="schedule",
        reason="nightly",
        verdict="pass",
        started_at=START,
        validated_at=START + timedelta(seconds=420),
        finished_at=START + timedelta(seconds=800),
        rto_seconds=420.0,
        rpo_seconds=12.0,
        torn_down=True,
    )
    fields.update(changes)
    return DrillReport.model_validate(fields)


def test_proven_drill_says_when_the_proof_ended_after_the_rto():
    text = render_report(_report(proven_at=START + timedelta(seconds=615)))
    assert "RTO            420.0 s (start to the copy passing validation)" in text
    assert "production's fingerprint, 195.0 s after the RTO" in text


def test_drill_without_a_proof_prints_no_proof_line():
    assert "proof" not in render_report(_report())
