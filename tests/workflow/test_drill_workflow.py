"""The drill's orchestration on the time-skipping server, activities replaced.

These check the workflow's own logic (teardown on every path, verdicts,
timers); the real activities are exercised in tests/integration.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.odoo import CatalogueOutcome, ComparisonOutcome
from odoo_dr.errors import BAD_INPUT
from odoo_dr.evidence import EvidenceReport, StoredReport, TrendPoint
from odoo_dr.inventory import RecoveryTier
from odoo_dr.models import (
    BackupChoice,
    DrillInput,
    IsolatedCopy,
    Neutralization,
    PrimaryPosition,
    RecoveredPoint,
    RestoredCopy,
    RunNotice,
    TableCount,
)
from odoo_dr.readiness import (
    WAL_CONTINUITY,
    ReadinessCheck,
    ReadinessReport,
    build_report,
)
from odoo_dr.validation import (
    CheckResult,
    Fingerprint,
    FingerprintComparison,
    ValidationInput,
    ValidationTarget,
)
from workflows.drill import ODOO_TABLES, RestoreDrillWorkflow
from workflows.validation import ValidateOdooWorkflow

WORKFLOWS = [RestoreDrillWorkflow, ValidateOdooWorkflow]

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


class FakeDrillActivities:
    """Activities with the real names, recording what the workflow asked."""

    def __init__(
        self,
        *,
        restore_fails: bool = False,
        empty_table: str = "",
        failing_check: str = "",
        rto_objective: timedelta = timedelta(hours=1),
        missing_segment: str = "",
        unexplained: bool = False,
    ) -> None:
        self.missing_segment = missing_segment
        self.unexplained = unexplained
        self.compared: list[dict] = []
        self.restore_fails = restore_fails
        self.empty_table = empty_table
        self.failing_check = failing_check
        self.rto_objective = rto_objective
        self.torn_down: list[str] = []
        self.validated: list[ValidationInput] = []
        self.calls: list[str] = []
        self.run_notices: list[RunNotice] = []
        self.evidence: list[EvidenceReport] = []

    def all(self) -> list:
        return [
            self.capture_primary_position,
            self.select_backup,
            self.restore_backup,
            self.start_restored_copy,
            self.isolate_copy,
            self.recovery_tiers,
            self.notify_run,
            self.store_evidence,
            self.check_readiness,
            self.drill_trend,
            self.count_tables,
            self.teardown_copy,
            self.capture_fingerprint,
            self.run_validation_checks,
            self.compare_fingerprint,
            self.probe_odoo,
        ]

    @activity.defn(name="capture_fingerprint")
    async def capture_fingerprint(
        self, environment: str, target: ValidationTarget, with_figures: bool = True
    ) -> Fingerprint:
        self.calls.append("capture_fingerprint")
        return Fingerprint(
            source=target.label,
            wal_lsn="0/5000000",
            taken_at=T0,
            newest_commit=T0,
            database_uuid="6f1e0c52-0000-4000-8000-000000000001",
            figures={},
            tables={},
        )

    @activity.defn(name="run_validation_checks")
    async def run_validation_checks(self, request: ValidationInput) -> CatalogueOutcome:
        self.calls.append("run_validation_checks")
        self.validated.append(request)
        failing = self.failing_check
        return CatalogueOutcome(
            odoo_version="17.0",
            results=[
                CheckResult(
                    name=name,
                    area=name.split(".")[0],
                    verdict="fail" if name == failing else "pass",
                    summary="found by the fake",
                )
                for name in ("identity.database_uuid", "accounting.balanced_moves")
            ],
        )

    @activity.defn(name="compare_fingerprint")
    async def compare_fingerprint(
        self,
        environment: str,
        taken: Fingerprint,
        target: ValidationTarget,
        witness: ValidationTarget | None,
        target_point: datetime | None,
        with_figures: bool = True,
        cutoff: datetime | None = None,
    ) -> ComparisonOutcome:
        self.calls.append("compare_fingerprint")
        self.compared.append(
            {
                "target": target,
                "witness": witness,
                "point": target_point,
                "cutoff": cutoff,
            }
        )
        return ComparisonOutcome(
            comparison=FingerprintComparison(
                fingerprint_source=taken.source,
                fingerprint_commit=taken.newest_commit,
                target_commit=target_point,
                direction="target-older",
                transactions_between=7,
                rows_between=9,
                cutoff=cutoff,
                transactions_to_cutoff=5 if cutoff else None,
            ),
            result=CheckResult(
                name="fingerprint.compare",
                area="fingerprint",
                verdict="fail" if self.unexplained else "pass",
                summary="unexplained" if self.unexplained else "explained",
            ),
        )

    @activity.defn(name="probe_odoo")
    async def probe_odoo(self, request: ValidationInput) -> list[CheckResult]:
        raise AssertionError("a drill copy has no Odoo to probe")

    @activity.defn(name="capture_primary_position")
    async def capture_primary_position(self, environment: str) -> PrimaryPosition:
        return PrimaryPosition(
            node="pg-a",
            wal_lsn="0/5000000",
            newest_commit=T0,
            observed_at=T0,
            database_uuid="6f1e0c52-0000-4000-8000-000000000001",
        )

    @activity.defn(name="select_backup")
    async def select_backup(
        self, environment: str, backup_id: str | None, choice: str
    ) -> BackupChoice:
        return BackupChoice(
            backup_id="20261201T010000",
            begin_time=T0 - timedelta(hours=1),
            end_time=T0 - timedelta(minutes=59),
            begin_wal=None,
            end_wal=None,
        )

    @activity.defn(name="restore_backup")
    async def restore_backup(
        self,
        environment: str,
        drill_id: str,
        backup_id: str,
        recovery_target_time: datetime | None = None,
        begin_wal: str | None = None,
    ) -> RestoredCopy:
        if self.restore_fails:
            raise ApplicationError("disk full", type=BAD_INPUT, non_retryable=True)
        return RestoredCopy(
            drill_id=drill_id,
            data_dir="/x",
            host="127.0.0.1",
            port=55400,
            backup_id=backup_id,
            restored_bytes=1,
        )

    @activity.defn(name="start_restored_copy")
    async def start_restored_copy(
        self, environment: str, copy: RestoredCopy
    ) -> RecoveredPoint:
        return RecoveredPoint(
            replay_lsn="0/4F00000",
            newest_commit=T0 - timedelta(seconds=42),
            timeline=2,
            recovery_seconds=3.0,
        )

    @activity.defn(name="isolate_copy")
    async def isolate_copy(self, environment: str, copy: RestoredCopy) -> IsolatedCopy:
        self.calls.append("isolate_copy")
        return IsolatedCopy(
            restored=copy.model_copy(update={"isolated": True}),
            neutralization=Neutralization(
                crons_disabled=["Mail: send queued mail"],
                mail_servers_disabled=1,
                fetchmail_servers_disabled=0,
                payment_providers_disabled=2,
                drill_role="odoo_dr_drill",
                listening="127.0.0.1:55400, role odoo_dr_drill only",
            ),
        )

    @activity.defn(name="notify_run")
    async def notify_run(self, notice: RunNotice) -> None:
        self.run_notices.append(notice)

    @activity.defn(name="check_readiness")
    async def check_readiness(
        self, environment: str, newest: BackupChoice | None = None
    ) -> ReadinessReport:
        gap = self.missing_segment
        continuity = ReadinessCheck(
            name=WAL_CONTINUITY,
            ok=not gap,
            detail=f"1 of 9 segments are missing: {gap}" if gap else "9 segments",
        )
        return build_report(environment, T0, [continuity])

    @activity.defn(name="drill_trend")
    async def drill_trend(self, environment: str) -> list[TrendPoint]:
        return [
            TrendPoint(
                run_id="earlier",
                started_at=T0 - timedelta(days=1),
                verdict="pass",
                rto_seconds=30.0,
                rpo_seconds=0.0,
            )
        ]

    @activity.defn(name="store_evidence")
    async def store_evidence(self, report: EvidenceReport) -> StoredReport:
        self.evidence.append(report)
        return StoredReport(
            bucket="b",
            key=f"evidence/{report.environment}/{report.run_id}",
            sha256="0" * 64,
            version_id=None,
            retain_until=None,
            object_lock="the fake keeps nothing",
        )

    @activity.defn(name="recovery_tiers")
    async def recovery_tiers(self, environment: str) -> list[RecoveryTier]:
        return [
            RecoveryTier(
                name="payroll",
                rto=self.rto_objective,
                rpo=timedelta(minutes=5),
                areas=["payroll"],
            )
        ]

    @activity.defn(name="count_tables")
    async def count_tables(
        self, environment: str, copy: RestoredCopy, tables: list[str]
    ) -> list[TableCount]:
        return [
            TableCount(
                table=t,
                rows=0 if t == self.empty_table else 10,
                ok=t != self.empty_table,
            )
            for t in tables
        ]

    @activity.defn(name="teardown_copy")
    async def teardown_copy(self, environment: str, drill_id: str) -> bool:
        self.torn_down.append(drill_id)
        return True


async def run(env: WorkflowEnvironment, fakes: FakeDrillActivities, **options):
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=fakes.all(),
    ):
        return await env.client.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", **options),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


async def test_passing_drill_reports_rpo_from_commit_times(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes)
    assert report.verdict == "pass"
    assert report.rpo_seconds == 42.0
    assert [t.table for t in report.tables] == ODOO_TABLES
    assert len(fakes.torn_down) == 1


async def test_drill_validates_the_copy_then_proves_it_against_production(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes)
    (request,) = fakes.validated
    assert request.target.port == 55400
    assert request.expected.database_uuid == "6f1e0c52-0000-4000-8000-000000000001"
    # The catalogue alone: the comparison is the drill's own step, after.
    assert request.fingerprint is None and not request.capture_fingerprint
    (compared,) = fakes.compared
    assert compared["target"].port == 55400
    assert compared["witness"].label == "production primary"
    assert compared["point"] == T0 - timedelta(seconds=42)
    assert compared["cutoff"] == T0  # production's newest commit at the start
    assert fakes.calls.index("run_validation_checks") < fakes.calls.index(
        "capture_fingerprint"
    )
    assert report.validation is not None and report.validation.verdict == "pass"
    names = [r.name for r in report.validation.results]
    assert names[-1] == "fingerprint.compare" and "accounting.balanced_moves" in names
    # Those committed up to the drill's start, not all since the point.
    assert report.rpo_transactions == 5


async def test_the_proof_against_production_is_timed_after_the_rto(env):
    report = await run(env, FakeDrillActivities())
    steps = {s.name: s for s in report.steps}
    proof = [
        steps["fingerprint production"],
        steps["compare copy with production's fingerprint"],
    ]
    assert report.validated_at is not None and report.proven_at is not None
    assert all(s.started_at >= report.validated_at for s in proof)
    assert report.proven_at >= proof[-1].ended_at
    assert (
        report.rto_seconds == (report.validated_at - report.started_at).total_seconds()
    )


async def test_unexplained_difference_from_production_fails_the_drill(env):
    fakes = FakeDrillActivities(unexplained=True)
    report = await run(env, fakes)
    assert report.verdict == "fail"
    assert "fingerprint.compare" in report.failure
    assert report.rto_seconds is None and report.proven_at is None
    assert report.validation is not None and report.validation.verdict == "fail"
    assert len(fakes.torn_down) == 1


async def test_critical_validation_failure_fails_the_drill_naming_the_check(env):
    fakes = FakeDrillActivities(failing_check="accounting.balanced_moves")
    report = await run(env, fakes)
    assert report.verdict == "fail"
    assert "accounting.balanced_moves" in report.failure
    assert report.failure.startswith("ValidationFailed")
    assert report.rto_seconds is None
    assert len(fakes.torn_down) == 1


async def test_failed_restore_still_tears_down_and_fails(env):
    fakes = FakeDrillActivities(restore_fails=True)
    report = await run(env, fakes)
    assert report.verdict == "fail"
    assert "disk full" in report.failure
    assert report.rto_seconds is None
    assert len(fakes.torn_down) == 1
    failed = [s.name for s in report.steps if s.outcome == "failed"]
    assert failed == ["restore base backup"]


async def test_empty_table_fails_the_drill_naming_it(env):
    report = await run(env, FakeDrillActivities(empty_table="hr_payslip"))
    assert report.verdict == "fail"
    assert "hr_payslip" in report.failure


async def test_inspection_window_keeps_the_copy_then_tears_it_down(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes, keep_copy_for=timedelta(hours=2))
    assert report.verdict == "pass"
    teardown = next(s for s in report.steps if s.name == "tear down copy")
    validated = report.validated_at
    assert validated is not None
    assert teardown.started_at - validated >= timedelta(hours=2)


async def test_workflow_and_activities_are_traced(env):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )
    from temporalio.client import Client

    from worker.telemetry import tracer_provider, tracing_interceptor

    exporter = InMemorySpanExporter()
    provider = tracer_provider(exporter)
    config = env.client.config()
    config["interceptors"] = [tracing_interceptor(provider)]
    traced = Client(**config)
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        traced,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=FakeDrillActivities().all(),
    ):
        await traced.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox"),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
    provider.force_flush()
    names = {span.name for span in exporter.get_finished_spans()}
    assert "RunWorkflow:RestoreDrill" in names
    assert "RunActivity:restore_backup" in names


async def test_cancelled_drill_still_tears_the_copy_down(env):
    fakes = FakeDrillActivities()
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=WORKFLOWS,
        activities=fakes.all(),
    ):
        handle = await env.client.start_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", keep_copy_for=timedelta(hours=8)),
            id=f"wf-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        for _ in range(100):
            status = await handle.query(RestoreDrillWorkflow.status)
            if status.waiting_for:
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        report = await handle.result()
    assert fakes.torn_down == [f"drill-{handle.result_run_id}"]
    assert report.verdict == "aborted" and report.torn_down
    assert report.failure == "cancelled by a person"
    assert report.evidence is not None
    assert [e.verdict for e in fakes.evidence] == ["aborted"]
    assert [p.run_id for p in fakes.evidence[0].trend] == ["earlier", report.run_id]


async def test_copy_is_neutralized_before_validation_connects(env):
    fakes = FakeDrillActivities()
    report = await run(env, fakes)

    assert fakes.calls.index("isolate_copy") < fakes.calls.index(
        "run_validation_checks"
    )
    target = fakes.validated[0].target
    assert target.drill_id == f"drill-{report.run_id}"
    assert fakes.validated[0].expected.paused_crons == ["Mail: send queued mail"]
    assert report.neutralization is not None
    assert report.neutralization.payment_providers_disabled == 2


async def test_drill_slower_than_the_rto_objective_fails_naming_the_tier(env):
    fakes = FakeDrillActivities(rto_objective=timedelta(seconds=0))
    report = await run(env, fakes)

    assert report.verdict == "fail"
    assert "objectives missed: RTO" in (report.failure or "")
    assert "of tier payroll" in (report.failure or "")
    verdicts = {o.measure: o.verdict for o in report.objectives}
    assert verdicts == {"RTO": "missed", "RPO": "met"}  # 42 s behind, 5 min allowed
    assert report.torn_down


async def test_drill_within_its_objectives_says_each_is_met(env):
    report = await run(env, FakeDrillActivities())

    assert report.verdict == "pass", report.failure
    rto, rpo = report.objectives
    assert (rto.tier, rto.measure, rpo.measure) == ("payroll", "RTO", "RPO")
    assert (rto.verdict, rpo.verdict) == ("met", "met")
    assert rpo.measured_seconds == 42.0
    assert report.missed == []


async def test_failed_drill_tells_the_channel_why(env):
    fakes = FakeDrillActivities(rto_objective=timedelta(seconds=0))
    report = await run(env, fakes)

    [notice] = fakes.run_notices
    assert notice.verdict == "fail" and notice.run_id == report.run_id
    assert notice.summary.startswith("objectives missed: RTO")
    assert "backup 20261201T010000" in notice.facts


async def test_passing_drill_sends_no_notice(env):
    fakes = FakeDrillActivities()
    await run(env, fakes)
    assert fakes.run_notices == []


async def test_failed_drill_still_ends_with_its_evidence_stored(env):
    fakes = FakeDrillActivities(restore_fails=True)
    failed = await run(env, fakes)

    assert failed.verdict == "fail"
    assert failed.evidence is not None
    assert failed.evidence.key == f"evidence/sandbox/{failed.run_id}"
    [stored] = fakes.evidence
    assert stored.verdict == "fail" and stored.failure == failed.failure
    assert [o.verdict for o in stored.objectives] == ["unknown", "unknown"]


async def test_gap_in_the_wal_archive_fails_the_drill_after_recovery(env):
    fakes = FakeDrillActivities(missing_segment="000000010000000000000007")
    report = await run(env, fakes)

    assert report.verdict == "fail" and report.torn_down
    assert "the backups cannot restore production as it is" in (report.failure or "")
    assert "missing: 000000010000000000000007" in (report.failure or "")
    assert "recovered up to 0/4F00000" in (report.failure or "")
    assert report.readiness is not None and not report.readiness.ready
