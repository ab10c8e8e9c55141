"""How every run ends: its evidence stored, and the channel told of a failure.

The runbooks build the report (odoo_dr.evidence) from what they found and
hand it to one activity that stores it; its answer, the key and the SHA-256
of the stored JSON, stays in the run's history and in the run's result, so
that ``odoo-dr report`` can check the stored copy against both.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.chat import ChatActivities
    from activities.evidence import EvidenceActivities
    from odoo_dr.errors import NON_RETRYABLE
    from odoo_dr.evidence import EvidenceReport, StoredReport
    from odoo_dr.models import RunNotice
    from workflows.gates import NOTIFY_RETRY
    from workflows.steps import describe_failure

# The object store may be down for a while: keep trying for about an hour.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=20,
    non_retryable_error_types=list(NON_RETRYABLE),
)


async def keep_evidence(
    report: EvidenceReport,
) -> tuple[StoredReport | None, str | None]:
    """Store ``report``; where it went, or why it could not be stored."""
    try:
        stored: StoredReport = await workflow.execute_activity_method(
            EvidenceActivities.store_evidence,
            report,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=STORE_RETRY,
            summary=f"Store the evidence report of {report.runbook}",
        )
    except ActivityError as exc:
        reason = describe_failure(exc)
        workflow.logger.error(
            "evidence of %s %s not stored: %s", report.runbook, report.run_id, reason
        )
        return None, reason
    return stored, None


async def tell_channel(notice: RunNotice) -> None:
    """Post how the run ended; a notice that cannot be delivered is logged."""
    try:
        await workflow.execute_activity_method(
            ChatActivities.notify_run,
            notice,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=NOTIFY_RETRY,
            summary=f"Tell the channel that the {notice.runbook} ended "
            f"{notice.verdict}",
        )
    except ActivityError as exc:
        workflow.logger.warning(
            "%s %s: notice not delivered: %s", notice.runbook, notice.run_id, exc
        )
