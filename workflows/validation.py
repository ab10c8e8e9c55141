"""Business validation of a recovered Odoo: the child workflow every runbook runs.

It runs the catalogue on the target (one read-only snapshot), holds the
target against a fingerprint when the runbook has one, takes the target's
own fingerprint when asked, and probes the Odoo application. It returns a
report and never fails for what it finds: the parent decides, and
:func:`raise_if_blocking` turns critical failures into a non-retryable error
of the parent's validation step.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.odoo import CatalogueOutcome, ComparisonOutcome, OdooActivities
    from odoo_dr.errors import NON_RETRYABLE, VALIDATION_FAILED
    from odoo_dr.models import RunbookStatus
    from odoo_dr.names import SA_PHASE, SA_VERDICT
    from odoo_dr.validation import (
        CheckResult,
        Fingerprint,
        ValidationInput,
        ValidationReport,
        overall_verdict,
    )
    from workflows.steps import leave_unused, run_step

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=list(NON_RETRYABLE),
)
PHASE = SearchAttributeKey.for_keyword(SA_PHASE)
VERDICT = SearchAttributeKey.for_keyword(SA_VERDICT)


@workflow.defn(name="ValidateOdoo")
class ValidateOdooWorkflow:
    """Are the books whole? The catalogue, fingerprints and probes on one target."""

    @workflow.init
    def __init__(self, request: ValidationInput) -> None:
        """Set up the status before any query can arrive."""
        self._status = RunbookStatus(
            runbook="validate",
            environment=request.environment,
            phase="starting",
            started_at=workflow.info().start_time,
        )

    @workflow.query
    def status(self) -> RunbookStatus:
        """Phase, current step, and each step's timings so far."""
        return self._status

    @workflow.run
    async def run(self, request: ValidationInput) -> ValidationReport:
        """Validate the target and return the report, whatever it found."""
        started_at = workflow.now()
        label = request.target.label or "the target"
        self._phase("validating")

        # The catalogue (every area's checks in one snapshot of the target)
        # and the fingerprint comparison read the target side by side.
        catalogue = asyncio.ensure_future(
            self._step(
                f"Check the books of {label}",
                OdooActivities.run_validation_checks,
                request,
                result_type=CatalogueOutcome,
            )
        )
        comparing = None
        if request.fingerprint is not None:
            comparing = asyncio.ensure_future(self._compare(request, label))
            # Without an Odoo database to compare with, it goes unused.
            comparing.add_done_callback(leave_unused)
        outcome: CatalogueOutcome = await catalogue
        results = list(outcome.results)
        reachable = not any(
            r.name in ("connection.reachable", "identity.odoo_database")
            for r in results
        )

        # Differences from the fingerprint must all be later transactions.
        # The comparison also takes the target's own fingerprint.
        comparison, taken = None, None
        if comparing is not None and reachable:
            compared = await comparing
            comparison = compared.comparison
            results.append(compared.result)
            if request.capture_fingerprint:
                taken = compared.fingerprint

        # The target's own fingerprint, kept with the evidence for later
        # runs, when no comparison took it.
        if request.capture_fingerprint and reachable and taken is None:
            taken = await self._step(
                f"Take a fingerprint of {label}",
                OdooActivities.capture_fingerprint,
                request.environment,
                request.target,
                request.fingerprint_figures,
                result_type=Fingerprint,
            )

        # Odoo itself: health, version, a login, and the canary when asked.
        if request.probes:
            results += await self._step(
                "Probe Odoo's web and XML-RPC endpoints",
                OdooActivities.probe_odoo,
                request,
                result_type=list[CheckResult],
            )

        verdict = overall_verdict(results)
        self._phase("done")
        workflow.upsert_search_attributes([VERDICT.value_set(verdict)])
        return ValidationReport(
            environment=request.environment,
            target=label,
            odoo_version=outcome.odoo_version,
            verdict=verdict,
            started_at=started_at,
            finished_at=workflow.now(),
            results=results,
            fingerprint=taken,
            comparison=comparison,
        )

    async def _compare(self, request: ValidationInput, label: str) -> ComparisonOutcome:
        assert request.fingerprint is not None
        outcome: ComparisonOutcome = await self._step(
            f"Compare {label} with the fingerprint of {request.fingerprint.source}",
            OdooActivities.compare_fingerprint,
            request.environment,
            request.fingerprint,
            request.target,
            request.witness,
            request.recovered_commit,
            request.fingerprint_figures,
            result_type=ComparisonOutcome,
        )
        return outcome

    async def _step(
        self, name: str, activity: object, *args: object, result_type: type
    ) -> Any:
        return await run_step(
            self._status,
            name,
            activity,
            *args,
            result_type=result_type,
            retry=RETRY,
            timeout=timedelta(minutes=30),
        )

    def _phase(self, phase: str) -> None:
        self._status.phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])


async def validate_in_child(request: ValidationInput, step: str) -> ValidationReport:
    """Run validation as a child of the calling runbook and return its report."""
    parent = workflow.info().workflow_id
    report: ValidationReport = await workflow.execute_child_workflow(
        ValidateOdooWorkflow.run,
        request,
        id=f"{parent}-{step}",
        static_summary=f"Business validation of {request.target.label or 'target'}",
    )
    return report


def raise_if_blocking(report: ValidationReport) -> None:
    """Fail the calling step, without retry, when a critical check failed.

    Raises:
        ApplicationError: of type ValidationFailed, naming the failed checks.
    """
    blocking = report.blocking
    if blocking:
        names = ", ".join(result.name for result in blocking)
        raise ApplicationError(
            f"business validation of {report.target} failed: {names}",
            type=VALIDATION_FAILED,
            non_retryable=True,
        )
