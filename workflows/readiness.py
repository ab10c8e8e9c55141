"""The readiness check as a runbook of its own, for a frequent schedule.

It runs the archive checks (activities.readiness) and, when the
environment can no longer meet its recovery objectives, tells the chat
channel which checks failed and what is at risk. The checks also feed the
worker's metrics (odoo_dr.readiness.ok and .figure).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.readiness import ReadinessActivities
    from odoo_dr.errors import NON_RETRYABLE
    from odoo_dr.models import RunNotice
    from odoo_dr.readiness import ReadinessReport
    from workflows.evidence import tell_channel

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=3,
    non_retryable_error_types=list(NON_RETRYABLE),
)


@workflow.defn(name="Readiness")
class ReadinessWorkflow:
    """Check that backups and WAL can still meet the objectives; alert if not."""

    @workflow.run
    async def run(self, environment: str) -> ReadinessReport:
        """Run the checks; the report comes back, ready or not."""
        report: ReadinessReport = await workflow.execute_activity_method(
            ReadinessActivities.check_readiness,
            environment,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RETRY,
            summary=f"Check the backups and WAL archive of {environment}",
        )
        if not report.ready:
            info = workflow.info()
            await tell_channel(
                RunNotice(
                    environment=environment,
                    runbook="readiness check",
                    workflow_id=info.workflow_id,
                    run_id=info.run_id,
                    verdict="not ready",
                    summary="the environment can no longer meet its recovery "
                    "objectives",
                    facts=[f"{c.name}: {c.detail}" for c in report.failed()]
                    + report.objectives_at_risk,
                )
            )
        return report
