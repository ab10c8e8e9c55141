"""The restore drill.

Restore a base backup (the newest, a named one, or any still in the store)
and the archived WAL into a copy that answers only on its private socket,
neutralize it (Odoo crons, outgoing and incoming mail, payment providers
off) and only then open it to the drill's own role, check that Odoo's
tables came back and run the business catalogue on the copy: that is the
RTO, what a real recovery must do before users return. Then prove the copy
against a fingerprint of production taken at that moment, which counts the
transactions a restore would lose; only a drill can do that (in a disaster,
production is what was lost), so it is timed apart, after the RTO, and the
drill passes only when it holds. Ask the business owners to sign off when
asked, judge RTO and RPO against every recovery tier, tear the copy down on
every path (also after a failure or a cancel), and return the report.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.backups import BackupActivities
    from activities.evidence import EvidenceActivities
    from activities.odoo import ComparisonOutcome, OdooActivities
    from activities.postgres import PostgresActivities
    from activities.readiness import ReadinessActivities
    from odoo_dr.errors import NON_RETRYABLE, PRECONDITION_FAILED, VALIDATION_FAILED
    from odoo_dr.evidence import TrendPoint, evidence_from_drill, objectives
    from odoo_dr.inventory import RecoveryTier
    from odoo_dr.models import (
        BackupChoice,
        DrillInput,
        DrillReport,
        IsolatedCopy,
        Neutralization,
        PrimaryPosition,
        RecoveredPoint,
        RestoredCopy,
        RunbookStatus,
        RunNotice,
        StepRecord,
        TableCount,
        Verdict,
    )
    from odoo_dr.names import (
        SA_ENVIRONMENT,
        SA_INCIDENT,
        SA_PHASE,
        SA_RUNBOOK,
        SA_VERDICT,
    )
    from odoo_dr.readiness import BACKUP_AGE, WAL_CONTINUITY, ReadinessReport
    from odoo_dr.validation import (
        Expectations,
        Fingerprint,
        ValidationInput,
        ValidationReport,
        ValidationTarget,
        overall_verdict,
    )
    from workflows.evidence import keep_evidence, tell_channel
    from workflows.gated import GatedRunbook
    from workflows.gates import GateKeeper
    from workflows.steps import (
        describe_failure,
        run_step,
        show_details,
    )
    from workflows.validation import raise_if_blocking, validate_in_child

# The tables of Odoo that a recovered copy must have, with rows.
ODOO_TABLES = [
    "res_company",
    "project_project",
    "account_analytic_line",
    "purchase_order",
    "account_move",
    "account_move_line",
    "hr_payslip_run",
    "hr_payslip",
    "ir_attachment",
    "ir_cron",
    "ir_config_parameter",
]

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=list(NON_RETRYABLE),
)
PHASE = SearchAttributeKey.for_keyword(SA_PHASE)
VERDICT = SearchAttributeKey.for_keyword(SA_VERDICT)
ENVIRONMENT = SearchAttributeKey.for_keyword(SA_ENVIRONMENT)
RUNBOOK = SearchAttributeKey.for_keyword(SA_RUNBOOK)
INCIDENT = SearchAttributeKey.for_keyword(SA_INCIDENT)


@dataclass
class _Findings:
    """What the drill's steps found so far; the report is built from it."""

    primary: PrimaryPosition | None = None
    backup: BackupChoice | None = None
    recovered: RecoveredPoint | None = None
    tables: list[TableCount] = field(default_factory=list)
    production: Fingerprint | None = None
    neutralization: Neutralization | None = None
    validation: ValidationReport | None = None
    validated_at: datetime | None = None
    proven_at: datetime | None = None
    tiers: list[RecoveryTier] = field(default_factory=list)
    readiness: ReadinessReport | None = None


@workflow.defn(name="RestoreDrill")
class RestoreDrillWorkflow(GatedRunbook):
    """Prove that the newest backup of an environment restores, and how fast."""

    @workflow.init
    def __init__(self, drill: DrillInput) -> None:
        """Set up the status before any query or signal can arrive."""
        self._status = RunbookStatus(
            runbook="restore-drill",
            environment=drill.environment,
            phase="starting",
            started_at=workflow.info().start_time,
        )
        self._gates = GateKeeper(drill.environment, "restore-drill", drill.requested_by)
        self._input = drill

    @workflow.query
    def status(self) -> RunbookStatus:
        """Phase, current step, and each step's timings so far."""
        return self._status

    @workflow.run
    async def run(self, drill: DrillInput) -> DrillReport:
        """Run the drill; the report comes back whether it passed or failed."""
        started_at = workflow.info().start_time
        drill_id = f"drill-{workflow.info().run_id}"
        # Findable however it was started (CLI, schedule, the UI's form).
        workflow.upsert_search_attributes(
            [
                ENVIRONMENT.value_set(drill.environment),
                RUNBOOK.value_set("restore-drill"),
                *([INCIDENT.value_set(drill.incident)] if drill.incident else []),
            ]
        )
        found = _Findings()
        failure: str | None = None
        torn_down = False
        # The copy is torn down on every path: success, failure, cancel. Not
        # when the worker evicts the run from its cache (GeneratorExit): the
        # run goes on, replayed by the next worker, which tears down.
        aborted = False
        try:
            await self._drill(drill, drill_id, found)
        except (ActivityError, ChildWorkflowError, ApplicationError) as exc:
            failure = describe_failure(exc)
        except asyncio.CancelledError:
            # Cancelled from the UI or the CLI: the copy goes, and the run
            # ends with its report rather than without one.
            failure, aborted = "cancelled by a person", True
        torn_down = await self._teardown(drill, drill_id)
        report = self._report(drill, started_at, found, failure, torn_down, aborted)
        if report.verdict != "pass":
            await self._tell_chat(report)
        trend = await self._past_drills(drill.environment)
        report.evidence, report.evidence_error = await keep_evidence(
            evidence_from_drill(report, found.tiers, ui_url=None, trend=trend)
        )
        return report

    async def _past_drills(self, environment: str) -> list[TrendPoint]:
        """RTO and RPO of earlier drills, from their stored evidence, for a trend."""
        try:
            trend: list[TrendPoint] = await workflow.execute_activity_method(
                EvidenceActivities.drill_trend,
                environment,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RETRY,
                summary="Read the RTO and RPO of earlier drills",
            )
        except ActivityError as exc:
            workflow.logger.warning("no trend of past drills: %s", exc)
            return []
        return trend

    async def _drill(self, drill: DrillInput, drill_id: str, found: _Findings) -> None:
        env = drill.environment

        # Sign-off rules are read first: a missing one stops the drill before
        # anything is restored.
        if drill.sign_off:
            await self._gates.load_plan()
            self._require_sign_off_rules(drill)

        # The objectives the drill is judged by.
        found.tiers = await self._step(
            "read recovery objectives",
            BackupActivities.recovery_tiers,
            env,
            result_type=list[RecoveryTier],
        )

        # Where production stands now: the RPO is measured against this.
        found.primary = await self._step(
            "capture primary position",
            PostgresActivities.capture_primary_position,
            env,
            result_type=PrimaryPosition,
        )
        found.backup = backup = await self._step(
            "select backup",
            BackupActivities.select_backup,
            env,
            drill.backup_id,
            drill.backup_choice,
            result_type=BackupChoice,
        )

        # While the copy is restored, the archive's state too: backup age,
        # WAL continuity, archive lag, Object Lock.
        checking = asyncio.ensure_future(self._check_archive(drill, found))

        self._phase("restoring")
        try:
            copy = await self._restore(drill, drill_id, backup, found)
        except BaseException:
            # A failed restore still reports the archive's state.
            found.readiness = await _unless_failed(checking)
            raise
        found.readiness = await checking

        # A gap or a stale backup fails the drill, now that the copy shows
        # what could be recovered.
        self._refuse_broken_archive(found)

        # Nothing but the drill reaches the copy before its crons, mail and
        # payment providers are off.
        isolated: IsolatedCopy = await self._step(
            "neutralize and isolate copy",
            PostgresActivities.isolate_copy,
            env,
            copy,
            result_type=IsolatedCopy,
        )
        copy, found.neutralization = isolated.restored, isolated.neutralization

        # Odoo's tables are counted while business validation reads the copy.
        self._phase("validating")
        counted = self._step(
            "count Odoo tables",
            PostgresActivities.count_tables,
            env,
            copy,
            ODOO_TABLES,
            result_type=list[TableCount],
        )
        if drill.validate_business:
            counts, validation = await asyncio.gather(
                counted, self._validate(drill, copy, found)
            )
            found.tables, found.validation = counts, validation
            raise_if_blocking(validation)
        else:
            found.tables = await counted

        # RTO ends here: the copy is restored, neutralized and its books
        # check out, all that a real recovery needs before users return.
        found.validated_at = workflow.now()

        # The proof only a drill can give: every difference from production,
        # fingerprinted now, is a transaction committed after the point
        # recovered. It does not slow the restore it proves.
        if drill.validate_business and found.validation is not None:
            self._phase("proving")
            found.validation = await self._prove(drill, copy, found.validation, found)
            raise_if_blocking(found.validation)
            found.proven_at = workflow.now()

        # The business owners confirm their areas on the restored copy.
        for area in drill.sign_off:
            await self._sign_off(area, found.validation)

        # Keep the copy for a person to look at, when asked, before teardown.
        if drill.keep_copy_for > timedelta(0):
            self._status.waiting_for = "inspection window to end"
            self._show()
            await workflow.sleep(drill.keep_copy_for)
            self._status.waiting_for = None

    async def _restore(
        self, drill: DrillInput, drill_id: str, backup: BackupChoice, found: _Findings
    ) -> RestoredCopy:
        """Restore the base backup, then replay the archived WAL until promoted."""
        copy: RestoredCopy = await self._step(
            "restore base backup",
            BackupActivities.restore_backup,
            drill.environment,
            drill_id,
            backup.backup_id,
            drill.recovery_target_time,
            backup.begin_wal,
            result_type=RestoredCopy,
            timeout=timedelta(hours=4),
        )
        self._detail(
            "restore base backup",
            f"{copy.restored_bytes} bytes restored, "
            f"{copy.wal_fetched_ahead} archived WAL files fetched ahead",
        )
        found.recovered = await self._step(
            "replay archived WAL",
            PostgresActivities.start_restored_copy,
            drill.environment,
            copy,
            result_type=RecoveredPoint,
            timeout=timedelta(hours=4),
        )
        return copy

    async def _prove(
        self,
        drill: DrillInput,
        copy: RestoredCopy,
        validation: ValidationReport,
        found: _Findings,
    ) -> ValidationReport:
        """Hold the copy against production; the validation report with it."""
        production = ValidationTarget(label="production primary")
        found.production = await self._step(
            "fingerprint production",
            OdooActivities.capture_fingerprint,
            drill.environment,
            production,
            # The catalogue reports the per-area figures of the copy.
            False,
            result_type=Fingerprint,
            timeout=timedelta(minutes=30),
        )
        compared: ComparisonOutcome = await self._step(
            "compare copy with production's fingerprint",
            OdooActivities.compare_fingerprint,
            drill.environment,
            found.production,
            _copy_target(copy),
            production,
            found.recovered.newest_commit if found.recovered else None,
            False,
            # What a restore at the drill's start would have lost.
            found.primary.newest_commit if found.primary else None,
            result_type=ComparisonOutcome,
            timeout=timedelta(minutes=30),
        )
        results = [*validation.results, compared.result]
        return validation.model_copy(
            update={
                "results": results,
                "verdict": overall_verdict(results),
                "finished_at": workflow.now(),
                "comparison": compared.comparison,
                "fingerprint": compared.fingerprint,
            }
        )

    async def _check_archive(
        self, drill: DrillInput, found: _Findings
    ) -> ReadinessReport:
        # The drill has just listed the backups: a drill of the newest one
        # hands it over rather than have them listed again.
        newest = found.backup
        if drill.backup_id is not None or drill.backup_choice != "newest":
            newest = None
        report: ReadinessReport = await self._step(
            "check backups and WAL archive",
            ReadinessActivities.check_readiness,
            drill.environment,
            newest,
            result_type=ReadinessReport,
        )
        return report

    def _refuse_broken_archive(self, found: _Findings) -> None:
        """Fail when the archive cannot give back what production committed."""
        broken = [
            f"{c.name}: {c.detail}"
            for c in (found.readiness.checks if found.readiness else [])
            if not c.ok and c.name in (WAL_CONTINUITY, BACKUP_AGE)
        ]
        if broken:
            reached = found.recovered.replay_lsn if found.recovered else "nothing"
            raise ApplicationError(
                "the backups cannot restore production as it is: "
                + "; ".join(broken)
                + f" (the copy was recovered up to {reached})",
                type=VALIDATION_FAILED,
                non_retryable=True,
            )

    def _require_sign_off_rules(self, drill: DrillInput) -> None:
        missing = [
            a for a in drill.sign_off if not self._gates.has_policy(f"sign_off_{a}")
        ]
        if missing:
            raise ApplicationError(
                f"no approval rule for sign-off of {', '.join(missing)}: add "
                f"approvals.gates.sign_off_<area> (or a default) to the inventory",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )

    async def _sign_off(self, area: str, validation: ValidationReport | None) -> None:
        name = f"sign_off_{area}"
        evidence = [
            f"{r.name}: {r.verdict} - {r.summary}"
            for r in (validation.results if validation else [])
            if r.area == area
        ]
        record = StepRecord(name=f"sign-off of {area}", started_at=workflow.now())
        self._status.steps.append(record)
        self._status.step = record.name
        self._status.waiting_for = f"sign-off of {area} (gate {name})"
        self._show()
        gate = await self._gates.wait(
            name,
            f"Confirm that {area} of the restored copy is right",
            evidence or [f"no automated check covers {area}"],
        )
        self._status.waiting_for = None
        record.ended_at = workflow.now()
        record.outcome = "done" if gate.outcome == "approved" else "failed"
        voters = ", ".join(f"{v.person} ({v.decision})" for v in gate.votes) or "nobody"
        record.detail = f"{gate.outcome} by {voters}"
        if gate.outcome != "approved":
            raise ApplicationError(
                f"sign-off of {area} {gate.outcome.replace('_', ' ')}: votes from "
                f"{voters}",
                type=VALIDATION_FAILED,
                non_retryable=True,
            )

    async def _validate(
        self, drill: DrillInput, copy: RestoredCopy, found: _Findings
    ) -> ValidationReport:
        """The business catalogue on the copy."""
        record = StepRecord(name="validate business data", started_at=workflow.now())
        self._status.step = record.name
        self._status.steps.append(record)
        report = await validate_in_child(
            ValidationInput(
                environment=drill.environment,
                target=_copy_target(copy),
                expected=Expectations(
                    database_uuid=found.primary.database_uuid
                    if found.primary
                    else None,
                    paused_crons=found.neutralization.crons_disabled
                    if found.neutralization
                    else [],
                ),
                # The copy has no Odoo application in front of it.
                probes=False,
                requested_by=drill.requested_by,
                reason=f"restore drill: {drill.reason}",
            ),
            "validate",
        )
        record.ended_at = workflow.now()
        record.outcome = "failed" if report.blocking else "done"
        record.detail = f"verdict {report.verdict}"
        return report

    async def _step(
        self,
        name: str,
        activity: object,
        *args: object,
        result_type: type,
        timeout: timedelta = timedelta(minutes=5),
    ) -> Any:
        return await run_step(
            self._status,
            name,
            activity,
            *args,
            result_type=result_type,
            retry=RETRY,
            timeout=timeout,
        )

    async def _teardown(self, drill: DrillInput, drill_id: str) -> bool:
        self._phase("tearing down")
        try:
            # False only means the copy was already gone: torn down either way.
            await self._step(
                "tear down copy",
                PostgresActivities.teardown_copy,
                drill.environment,
                drill_id,
                result_type=bool,
            )
        except ActivityError as exc:
            workflow.logger.error("teardown of %s failed: %s", drill_id, exc)
            return False
        return True

    async def _tell_chat(self, report: DrillReport) -> None:
        """A failed or aborted drill tells the channel; a lost notice is logged."""
        facts = [f"backup {report.backup.backup_id}"] if report.backup else []
        facts += report.missed
        if not report.torn_down:
            facts.append("the copy could not be torn down: remove it by hand")
        notice = RunNotice(
            environment=report.environment,
            runbook="restore drill",
            workflow_id=report.workflow_id,
            run_id=report.run_id,
            verdict=report.verdict,
            summary=report.failure or report.verdict,
            facts=facts,
        )
        await tell_channel(notice)

    def _detail(self, step: str, detail: str) -> None:
        """Say what a finished step did, in its record."""
        for record in self._status.steps:
            if record.name == step and record.outcome == "done":
                record.detail = detail

    def _phase(self, phase: str) -> None:
        self._status.phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])
        self._show()

    def _show(self) -> None:
        show_details(self._status, self._input.requested_by, self._input.reason)

    def _report(
        self,
        drill: DrillInput,
        started_at: datetime,
        found: _Findings,
        failure: str | None,
        torn_down: bool,
        aborted: bool = False,
    ) -> DrillReport:
        missing = [t.table for t in found.tables if not t.ok]
        if failure is None and missing:
            failure = "tables missing or empty in the restored copy: " + ", ".join(
                missing
            )
        rto = _rto(started_at, found.validated_at, failure)
        rpo = _rpo(found.primary, found.recovered)
        judged = objectives(found.tiers, {"RTO": rto, "RPO": rpo})
        # A drill that restores too slowly, or loses too much, fails loudly.
        missed = [o.missed for o in judged if o.missed]
        if failure is None and missed:
            failure = "objectives missed: " + "; ".join(missed)
        verdict: Verdict = "pass" if failure is None and torn_down else "fail"
        if aborted:
            verdict = "aborted"
        if failure is None and not torn_down:
            failure = "the drill copy could not be torn down; remove it by hand"
        self._phase("done")
        workflow.upsert_search_attributes([VERDICT.value_set(verdict)])
        return DrillReport(
            environment=drill.environment,
            workflow_id=workflow.info().workflow_id,
            run_id=workflow.info().run_id,
            requested_by=drill.requested_by,
            reason=drill.reason,
            verdict=verdict,
            failure=failure,
            started_at=started_at,
            validated_at=found.validated_at if rto is not None else None,
            proven_at=found.proven_at if rto is not None else None,
            finished_at=workflow.now(),
            backup=found.backup,
            readiness=found.readiness,
            primary=found.primary,
            recovered=found.recovered,
            rto_seconds=rto,
            rpo_seconds=rpo,
            tables=found.tables,
            neutralization=found.neutralization,
            validation=found.validation,
            objectives=judged,
            approvals=self._gates.open_gates(),
            rpo_transactions=_lost_transactions(found.validation),
            steps=self._status.steps,
            torn_down=torn_down,
        )


def _copy_target(copy: RestoredCopy) -> ValidationTarget:
    """The copy as validation reaches it: the drill role, on the copy's port."""
    return ValidationTarget(
        host=copy.host,
        port=copy.port,
        drill_id=copy.drill_id,
        label=f"drill copy {copy.drill_id}",
    )


async def _unless_failed(step: asyncio.Future[Any]) -> Any:
    """The step's result, or None when it failed."""
    try:
        return await step
    except ActivityError:
        return None


def _lost_transactions(validation: ValidationReport | None) -> int | None:
    """Production's transactions after the point recovered, up to the drill's start."""
    comparison = validation.comparison if validation else None
    if comparison is None:
        return None
    if comparison.transactions_to_cutoff is not None:
        return comparison.transactions_to_cutoff
    return comparison.transactions_between


def _rto(
    started_at: datetime, validated_at: datetime | None, failure: str | None
) -> float | None:
    """Drill start to validated copy; none when the copy never validated."""
    if failure is not None or validated_at is None:
        return None
    return (validated_at - started_at).total_seconds()


def _rpo(
    primary: PrimaryPosition | None, recovered: RecoveredPoint | None
) -> float | None:
    """Newest commit on production at drill start minus newest one recovered."""
    if primary is None or recovered is None:
        return None
    # Without a commit time on both sides (the primary has committed nothing
    # since it started, or the copy replayed no commit) the RPO is unknown.
    if primary.newest_commit is None or recovered.newest_commit is None:
        return None
    return max(0.0, (primary.newest_commit - recovered.newest_commit).total_seconds())
