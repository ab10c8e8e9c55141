"""The scheduled readiness check on the time-skipping server, activities faked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio import activity
from temporalio.worker import Worker

from odoo_dr.models import RunNotice
from odoo_dr.readiness import (
    ARCHIVE_LAG,
    WAL_CONTINUITY,
    ReadinessCheck,
    ReadinessReport,
    build_report,
)
from workflows.readiness import ReadinessWorkflow

T0 = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


class Fakes:
    def __init__(self, *, lagging: bool) -> None:
        self.lagging = lagging
        self.notices: list[RunNotice] = []

    @activity.defn(name="check_readiness")
    async def check_readiness(self, environment: str) -> ReadinessReport:
        lag = ReadinessCheck(
            name=ARCHIVE_LAG,
            ok=not self.lagging,
            detail="last segment archived 2 h ago" if self.lagging else "fresh",
            threatens=["tier payroll: RPO 5 min cannot be met"] if self.lagging else [],
        )
        continuity = ReadinessCheck(name=WAL_CONTINUITY, ok=True, detail="9 segments")
        return build_report(environment, T0, [continuity, lag])

    @activity.defn(name="notify_run")
    async def notify_run(self, notice: RunNotice) -> None:
        self.notices.append(notice)


async def check(env, fakes: Fakes) -> ReadinessReport:
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[ReadinessWorkflow],
        activities=[fakes.check_readiness, fakes.notify_run],
    ):
        return await env.client.execute_workflow(
            ReadinessWorkflow.run,
            "sandbox",
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ReadinessReport,
        )


async def test_environment_that_cannot_meet_its_objectives_alerts_the_channel(env):
    fakes = Fakes(lagging=True)
    report = await check(env, fakes)

    assert not report.ready
    [notice] = fakes.notices
    assert notice.verdict == "not ready" and notice.runbook == "readiness check"
    assert "archive lag: last segment archived 2 h ago" in notice.facts
    assert "tier payroll: RPO 5 min cannot be met" in notice.facts


async def test_ready_environment_sends_no_alert(env):
    fakes = Fakes(lagging=False)
    report = await check(env, fakes)

    assert report.ready and fakes.notices == []
