"""Moving Odoo's service between regions: switchover, failover, failback.

Switchover (planned): pre-flight, approval, fingerprint, quiesce the app
tier, fence the primary with a clean shutdown, wait until the standby has
replayed its final checkpoint, promote, repoint and resume the app tier,
validate, and rewind the old primary into a standby of the new one. Zero
committed transactions are lost.

Failover (unplanned): pre-flight, approval, fence what can be fenced,
promote, repoint, resume, validate. The old primary is left fenced; failback
rewinds it and switches back.

Before the promotion every step is undone on failure or abort (the app tier
resumed, the fence lifted), and the report says what was undone. After it,
a failure stops the run for a person: nothing undoes a promotion.

One region move at a time per environment: a run must have the workflow id
``region-move-<environment>``, which Temporal keeps unique while it runs.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
)

with workflow.unsafe.imports_passed_through():
    from activities.app_tier import AppTierActivities
    from activities.backups import BackupActivities
    from activities.integrations import IntegrationActivities
    from activities.postgres_pair import PairActivities
    from activities.preflight import PreflightActivities
    from activities.redis import RedisActivities
    from activities.traffic import TrafficActivities
    from odoo_dr.cutover import (
        AppTierStep,
        DataLoss,
        Fencing,
        IntegrationCheck,
        Preflight,
        Promotion,
        RedisChange,
        RegionMoveInput,
        RegionMoveReport,
        Reprotection,
        TrafficChange,
    )
    from odoo_dr.errors import BAD_INPUT, NON_RETRYABLE, PRECONDITION_FAILED
    from odoo_dr.evidence import evidence_from_region_move
    from odoo_dr.inventory import RecoveryTier
    from odoo_dr.models import RunbookStatus, RunNotice, StepRecord
    from odoo_dr.names import (
        SA_ENVIRONMENT,
        SA_INCIDENT,
        SA_PHASE,
        SA_RUNBOOK,
        SA_VERDICT,
    )
    from odoo_dr.validation import ValidationInput, ValidationTarget
    from workflows.evidence import keep_evidence, tell_channel
    from workflows.gated import GatedRunbook
    from workflows.gates import GateKeeper
    from workflows.steps import describe_failure, run_step, show_details
    from workflows.validation import raise_if_blocking, validate_in_child

Runbook = Literal["switchover", "failover", "failback"]

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
    non_retryable_error_types=list(NON_RETRYABLE),
)
PHASE = SearchAttributeKey.for_keyword(SA_PHASE)
VERDICT = SearchAttributeKey.for_keyword(SA_VERDICT)
ENVIRONMENT = SearchAttributeKey.for_keyword(SA_ENVIRONMENT)
RUNBOOK = SearchAttributeKey.for_keyword(SA_RUNBOOK)
INCIDENT = SearchAttributeKey.for_keyword(SA_INCIDENT)


def region_move_id(environment: str) -> str:
    """The workflow id every region move of ``environment`` must run under."""
    return f"region-move-{environment}"


class _Aborted(Exception):
    """The run stops before the point of no return; what ran is undone."""


class _RegionMove(GatedRunbook):
    """Steps shared by the three runbooks, and their report."""

    runbook: Runbook

    def _setup(self, request: RegionMoveInput) -> None:
        self._request = request
        self._status = RunbookStatus(
            runbook=self.runbook,
            environment=request.environment,
            phase="starting",
            started_at=workflow.info().start_time,
        )
        self._gates = GateKeeper(
            request.environment, self.runbook, request.requested_by
        )
        self._report = RegionMoveReport(
            environment=request.environment,
            runbook=self.runbook,
            workflow_id=workflow.info().workflow_id,
            run_id=workflow.info().run_id,
            requested_by=request.requested_by,
            reason=request.reason,
            verdict="fail",
            started_at=workflow.info().start_time,
        )
        self._undo: list[tuple[str, Any, tuple[Any, ...]]] = []
        self._promoted = False

    @workflow.query
    def status(self) -> RunbookStatus:
        """Phase, current step, what the run waits for, each step's timings."""
        return self._status

    # The run, with compensation before the point of no return.

    async def _guarded(self, body: Any) -> RegionMoveReport:
        request = self._request
        # Findable however it was started (CLI, the UI's form), by incident too.
        workflow.upsert_search_attributes(
            [
                ENVIRONMENT.value_set(request.environment),
                RUNBOOK.value_set(self.runbook),
                *([INCIDENT.value_set(request.incident)] if request.incident else []),
            ]
        )
        try:
            self._refuse_second_run(request)
            await body()
            if self._report.verdict != "dry_run":
                self._report.verdict = "pass"
        except (ActivityError, ChildWorkflowError, ApplicationError, _Aborted) as exc:
            aborted = isinstance(exc, _Aborted) or _cancelled(exc)
            self._report.failure = (
                "cancelled by a person" if _cancelled(exc) else describe_failure(exc)
            )
            self._report.verdict = "aborted" if aborted else "fail"
            await self._compensate()
        except asyncio.CancelledError:
            # Cancelled from the UI or the CLI: an abort. What ran is undone
            # and the run ends with its report rather than without one.
            self._report.failure = "cancelled by a person"
            self._report.verdict = "aborted"
            await self._compensate()
        finally:
            self._report.ended_at = workflow.now()
            self._phase("done")
            workflow.upsert_search_attributes([VERDICT.value_set(self._report.verdict)])
        return await self._finish()

    async def _finish(self) -> RegionMoveReport:
        """The report, with its evidence stored; the channel told of a failure."""
        self._report.ended_at = workflow.now()
        report = self._report.model_copy(
            update={"steps": self._status.steps, "approvals": self._gates.open_gates()}
        )
        if report.verdict in ("fail", "aborted"):
            await self._tell_chat(report)
        try:
            tiers: list[RecoveryTier] = await workflow.execute_activity_method(
                BackupActivities.recovery_tiers,
                report.environment,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=RETRY,
                summary="Read the recovery objectives",
            )
        except ActivityError:
            tiers = []  # an unknown environment: the evidence says what it can
        report.evidence, report.evidence_error = await keep_evidence(
            evidence_from_region_move(report, tiers, ui_url=None)
        )
        return report

    async def _tell_chat(self, report: RegionMoveReport) -> None:
        """Say in the channel how the run ended; a lost notice is only logged."""
        facts = list(report.compensated)
        if report.promotion is not None:
            facts.insert(0, f"promoted {report.promotion.node}: a person decides now")
        notice = RunNotice(
            environment=report.environment,
            runbook=report.runbook,
            workflow_id=report.workflow_id,
            run_id=report.run_id,
            verdict=report.verdict,
            summary=report.failure or report.verdict,
            facts=facts,
        )
        await tell_channel(notice)

    def _refuse_second_run(self, request: RegionMoveInput) -> None:
        wanted = region_move_id(request.environment)
        if workflow.info().workflow_id != wanted and not request.dry_run:
            raise ApplicationError(
                f"a region move of {request.environment} must run as workflow id "
                f"{wanted!r}, so that only one runs at a time; start it again "
                "with that id",
                type=BAD_INPUT,
                non_retryable=True,
            )

    async def _compensate(self) -> None:
        """Undo, newest first, what ran before the promotion."""
        if self._promoted:
            self._report.compensated.append(
                "nothing undone: the standby was promoted; a person decides"
            )
            return
        self._phase("undoing")
        while self._undo:
            name, activity, args = self._undo.pop()
            try:
                result = await self._step(name, activity, *args, result_type=object)
                self._report.compensated.append(f"{name}: {_summary(result)}")
            except (ActivityError, ApplicationError) as exc:
                self._report.compensated.append(
                    f"{name} FAILED: {describe_failure(exc)}"
                )

    # Steps shared by the runbooks.

    async def _preflight(self, to_region: str | None) -> Preflight:
        self._phase("pre-flight")
        preflight: Preflight = await self._step(
            "pre-flight of the pair",
            PreflightActivities.preflight,
            self._request.environment,
            to_region,
            result_type=Preflight,
        )
        self._report.preflight = preflight
        return preflight

    async def _approve(self, gate: str, what: str, preflight: Preflight) -> None:
        self._phase("awaiting approval")
        await self._gates.load_plan()
        if not self._gates.has_policy(gate):
            raise ApplicationError(
                f"no approval rule for gate {gate}: add approvals.gates.{gate} (or "
                "a default) to the inventory",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        evidence = [
            f"{'ok' if c.ok else 'FAILED'} {c.name}: {c.detail}"
            for c in preflight.checks
        ]
        self._status.waiting_for = f"approval (gate {gate})"
        record = StepRecord(name=f"approval: {gate}", started_at=workflow.now())
        self._status.steps.append(record)
        self._status.step = record.name
        self._show()
        closed = await self._gates.wait(gate, what, evidence)
        self._status.waiting_for = None
        record.ended_at = workflow.now()
        voters = ", ".join(f"{v.person} ({v.decision})" for v in closed.votes)
        record.detail = f"{closed.outcome} by {voters or 'nobody'}"
        record.outcome = "done" if closed.outcome == "approved" else "failed"
        if closed.outcome != "approved":
            raise _Aborted(f"gate {gate} {closed.outcome.replace('_', ' ')}")

    async def _quiesce(self, region: str) -> None:
        self._phase("quiescing")
        steps: list[AppTierStep] = await self._step(
            f"quiesce Odoo of region {region}",
            AppTierActivities.quiesce_app_tier,
            self._request.environment,
            region,
            result_type=list[AppTierStep],
        )
        self._report.app_tier += steps
        self._undo.append(
            (
                f"resume Odoo of region {region}",
                AppTierActivities.resume_app_tier,
                (self._request.environment, region),
            )
        )

    async def _fence(self, node: str, planned: bool) -> Fencing:
        self._phase("fencing")
        fencing: Fencing = await self._step(
            f"fence old primary {node}",
            PairActivities.fence_primary,
            self._request.environment,
            node,
            planned,
            result_type=Fencing,
            timeout=timedelta(minutes=2),
            local=True,  # within the write outage: no round trip to the server
        )
        self._report.fencing = fencing
        self._undo.append(
            (
                f"lift the fence of {node}",
                PairActivities.unfence_primary,
                (self._request.environment, fencing),
            )
        )
        return fencing

    async def _promote(self, node: str) -> Promotion:
        self._phase("promoting")
        # The point of no return: from here on nothing is undone automatically.
        self._promoted = True
        promotion: Promotion = await self._step(
            f"promote standby {node}",
            PairActivities.promote_standby,
            self._request.environment,
            node,
            result_type=Promotion,
            timeout=timedelta(minutes=2),
            local=True,
        )
        self._report.promotion = promotion
        return promotion

    async def _serve_from(self, region: str, host: str, port: int) -> None:
        self._phase("repointing")
        # Sessions and caches of the old era go before the new Odoo starts.
        self._report.redis = await self._step(
            f"prepare Redis for region {region}",
            RedisActivities.move_redis,
            self._request.environment,
            region,
            result_type=RedisChange,
            timeout=timedelta(seconds=30),
            local=True,
        )
        self._report.app_tier += await self._step(
            f"start Odoo of region {region} on {host}:{port}",
            AppTierActivities.serve_app_tier,
            self._request.environment,
            region,
            host,
            port,
            result_type=list[AppTierStep],
            # A Kubernetes rollout may take minutes; a process answers at once.
            timeout=timedelta(minutes=6),
            local=True,
        )

    async def _route_traffic(self, region: str, undo_to: str | None = None) -> None:
        """Send users to ``region``; before the promotion, say how to undo it."""
        change: TrafficChange = await self._step(
            f"send users to region {region}",
            TrafficActivities.route_traffic,
            self._request.environment,
            region,
            result_type=TrafficChange,
        )
        self._report.traffic.append(change)
        if undo_to is not None and change.action == "routed":
            self._undo.append(
                (
                    f"send users back to region {undo_to}",
                    TrafficActivities.route_traffic,
                    (self._request.environment, undo_to),
                )
            )

    async def _validate(self, node: str, region: str) -> None:
        if not self._request.validate_business:
            return
        self._phase("validating")
        record = StepRecord(
            name=f"validate business data on {node}", started_at=workflow.now()
        )
        self._status.steps.append(record)
        report = await validate_in_child(
            ValidationInput(
                environment=self._request.environment,
                target=ValidationTarget(
                    node=node, region=region, label=f"new primary {node}"
                ),
                requested_by=self._request.requested_by,
                reason=f"{self.runbook}: {self._request.reason}",
            ),
            "validate",
        )
        record.ended_at = workflow.now()
        record.outcome = "done" if not report.blocking else "failed"
        record.detail = f"{report.verdict}: {len(report.results)} checks"
        self._report.validation = report
        raise_if_blocking(report)

    async def _reconnect(self) -> None:
        """Probe the integrations; their owners confirm the rest, like gates."""
        env = self._request.environment
        self._phase("reconnecting")
        checks: list[IntegrationCheck] = await self._step(
            "probe integrations",
            IntegrationActivities.probe_integrations,
            env,
            result_type=list[IntegrationCheck],
        )
        self._report.integrations = checks
        tasks = [c for c in checks if not c.ok and c.owner]
        if tasks:
            await self._gates.load_plan()
            await asyncio.gather(*(self._ask_owner(c) for c in tasks))
        missing = [c.name for c in checks if not c.ok and c.confirmed != "approved"]
        if missing:
            raise ApplicationError(
                f"integrations not reconnected: {', '.join(missing)}; the service "
                "runs in the new region, these need a person",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )

    async def _ask_owner(self, check: IntegrationCheck) -> None:
        what = f"Reconnect {check.name} to the new region and confirm"
        gate = await self._gates.wait(f"reconnect_{check.name}", what, [check.detail])
        check.confirmed = gate.outcome

    async def _reprotect(self, node: str, source: str) -> Reprotection:
        self._phase("reprotecting")
        done: Reprotection = await self._step(
            f"rewind {node} into a standby of {source}",
            PairActivities.reprotect_node,
            self._request.environment,
            node,
            source,
            result_type=Reprotection,
            timeout=timedelta(hours=2),
        )
        self._report.reprotection = done
        return done

    async def _step(
        self,
        name: str,
        activity: Any,
        *args: Any,
        result_type: Any,
        timeout: timedelta = timedelta(minutes=10),
        heartbeat: timedelta = timedelta(seconds=30),
        local: bool = False,
    ) -> Any:
        return await run_step(
            self._status,
            name,
            activity,
            *args,
            result_type=None if result_type is object else result_type,
            retry=RETRY,
            timeout=timeout,
            heartbeat=heartbeat,
            local=local,
        )

    def _phase(self, phase: str) -> None:
        self._status.phase = phase
        workflow.upsert_search_attributes([PHASE.value_set(phase)])
        self._show()

    def _show(self) -> None:
        request = self._request
        show_details(self._status, request.requested_by, request.reason)


@workflow.defn(name="Switchover")
class SwitchoverWorkflow(_RegionMove):
    """Planned move of the primary to the other region, losing nothing."""

    runbook: Runbook = "switchover"

    @workflow.init
    def __init__(self, request: RegionMoveInput) -> None:
        """Set up status and gates before any query or vote can arrive."""
        self._setup(request)

    @workflow.run
    async def run(self, request: RegionMoveInput) -> RegionMoveReport:
        """Run the switchover; the report comes back however it ends."""
        return await self._guarded(lambda: switch_over(self, request.to_region))


async def switch_over(
    run: _RegionMove, to_region: str | None, approved: bool = False
) -> None:
    """The planned switchover's steps, also the second half of a failback.

    ``approved``: the failback's own gate already covered the switch back.
    """
    request = run._request
    preflight = await run._preflight(to_region)
    if request.dry_run:
        run._report.verdict = "dry_run"
        return
    if not preflight.switchover_open:
        raise ApplicationError(
            "switchover refused: " + "; ".join(preflight.blocking("switchover")),
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    source, target = preflight.source, preflight.target
    if not approved:
        await run._approve(
            "switchover",
            f"Switch {request.environment} over from {source} "
            f"(region {preflight.source_region}) to {target} (region "
            f"{preflight.target_region}); Odoo pauses for a few seconds",
            preflight,
        )

    # From here the app is paused: keep the window short.
    window_start = workflow.now()
    await run._quiesce(preflight.source_region)
    fencing = await run._fence(source, planned=True)
    if fencing.final_lsn is None:
        raise _Aborted(f"{source} did not shut down cleanly: {fencing.detail}")
    await run._step(
        f"wait until {target} has replayed {fencing.final_lsn}",
        PairActivities.wait_replayed,
        request.environment,
        target,
        fencing.final_lsn,
        result_type=str,
        timeout=timedelta(minutes=10),
        local=True,
    )

    promotion = await run._promote(target)
    host, port = _address(preflight, target)
    await run._serve_from(preflight.target_region, host, port)
    run._report.unavailable_seconds = (workflow.now() - window_start).total_seconds()
    run._report.lost_bytes = 0
    await run._route_traffic(preflight.target_region)

    await run._validate(promotion.node, preflight.target_region)
    if request.reprotect:
        await run._reprotect(source, target)
    await run._reconnect()


@workflow.defn(name="Failover")
class FailoverWorkflow(_RegionMove):
    """Unplanned move to the standby region when the primary's is lost."""

    runbook: Runbook = "failover"

    @workflow.init
    def __init__(self, request: RegionMoveInput) -> None:
        """Set up status and gates before any query or vote can arrive."""
        self._setup(request)

    @workflow.run
    async def run(self, request: RegionMoveInput) -> RegionMoveReport:
        """Run the failover; the report comes back however it ends."""
        return await self._guarded(lambda: self._fail_over(request))

    async def _fail_over(self, request: RegionMoveInput) -> None:
        preflight = await self._preflight(request.to_region)
        if request.dry_run:
            self._report.verdict = "dry_run"
            return
        self._refuse_closed_paths(preflight)
        source, target = preflight.source, preflight.target
        await self._approve(
            "failover",
            f"Fail {request.environment} over to {target} (region "
            f"{preflight.target_region}): promote it and send Odoo there; "
            f"{source} (region {preflight.source_region}) stays fenced",
            preflight,
        )

        # Fence what can be fenced of the old region, and say what could not.
        window_start = workflow.now()
        await self._quiesce_what_answers(preflight.source_region)
        await self._route_traffic(
            preflight.target_region, undo_to=preflight.source_region
        )
        fencing = await self._fence(source, planned=False)
        if not fencing.confirmed and not request.fence_override:
            raise _Aborted(
                f"the fence of {source} is not confirmed ({fencing.detail}); "
                "start again with fence_override and a written reason"
            )

        promotion = await self._promote(target)
        self._report.lost_bytes = preflight.pair.lag_bytes
        self._report.lost_bytes_known = preflight.source_answers
        host, port = _address(preflight, target)
        await self._serve_from(preflight.target_region, host, port)
        self._report.unavailable_seconds = (
            workflow.now() - window_start
        ).total_seconds()

        # What the old primary committed that never reached the standby.
        if promotion.replayed_lsn and fencing.method in ("stopped", "already_down"):
            await self._measure_loss(source, promotion.replayed_lsn)

        await self._validate(promotion.node, preflight.target_region)
        await self._reconnect()

    async def _measure_loss(self, node: str, fork_lsn: str) -> None:
        loss: DataLoss = await self._step(
            f"count what {node} committed after {fork_lsn}",
            PairActivities.measure_loss,
            self._request.environment,
            node,
            fork_lsn,
            result_type=DataLoss,
        )
        self._report.loss = loss
        if loss.measured:
            self._report.lost_bytes = loss.lost_bytes
            self._report.lost_bytes_known = True

    def _refuse_closed_paths(self, preflight: Preflight) -> None:
        request = self._request
        if not preflight.failover_open:
            raise ApplicationError(
                "failover refused: " + "; ".join(preflight.blocking("failover")),
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        if preflight.failover_needs_override and not request.lag_override:
            lag = next(c for c in preflight.checks if c.name == "replay lag")
            raise ApplicationError(
                f"failover refused: replay lag over the RPO budget ({lag.detail}); "
                "start again with lag_override and a written reason to accept "
                "the loss",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )

    async def _quiesce_what_answers(self, region: str) -> None:
        """Stop the old region's app; an unreachable one is recorded, not fatal."""
        try:
            await self._quiesce(region)
        except ActivityError as exc:
            self._report.app_tier.append(
                AppTierStep(
                    deployment="*",
                    region=region,
                    action="unchanged",
                    detail=f"could not be quiesced: {describe_failure(exc)}",
                )
            )


@workflow.defn(name="Failback")
class FailbackWorkflow(_RegionMove):
    """Reprotect the old primary as a standby, then switch back to it."""

    runbook: Runbook = "failback"

    @workflow.init
    def __init__(self, request: RegionMoveInput) -> None:
        """Set up status and gates before any query or vote can arrive."""
        self._setup(request)

    @workflow.run
    async def run(self, request: RegionMoveInput) -> RegionMoveReport:
        """Run the failback; the report comes back however it ends."""
        return await self._guarded(lambda: self._fail_back(request))

    async def _fail_back(self, request: RegionMoveInput) -> None:
        # Where the service goes back to: the region that does not serve now.
        first = await self._preflight(request.to_region)
        if request.dry_run:
            self._report.verdict = "dry_run"
            return
        serving = first.pair.serving_region()
        if serving is None or serving == first.target_region:
            raise ApplicationError(
                f"failback refused: {len(first.pair.primaries())} primaries answer; "
                "exactly one, outside the region to fail back to, must serve",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        current = first.pair.primaries()[0].name
        await self._approve(
            "failback",
            f"Rewind {first.target} (region {first.target_region}) into a standby "
            f"of {current}, discarding what it wrote after the failover, then "
            f"switch {request.environment} back to it",
            first,
        )
        await self._reprotect(first.target, current)
        await switch_over(self, first.target_region, approved=True)


def _address(preflight: Preflight, node: str) -> tuple[str, int]:
    found = preflight.pair.node(node)
    return found.host, found.port


def _cancelled(exc: BaseException) -> bool:
    """Whether a step failed because the run was cancelled."""
    return isinstance(exc, ActivityError | ChildWorkflowError) and isinstance(
        exc.cause, CancelledError
    )


def _summary(result: Any) -> str:
    if isinstance(result, list):
        return ", ".join(str(getattr(r, "action", r)) for r in result) or "nothing"
    return str(result)


# The workflow class of each runbook, for starters.
WORKFLOW_OF: dict[str, Any] = {
    "switchover": SwitchoverWorkflow,
    "failover": FailoverWorkflow,
    "failback": FailbackWorkflow,
}
