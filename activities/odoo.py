"""Activities on an Odoo database and its application: validation, fingerprints.

Every function here only reads. The module's plain functions do the work so
that ``odoo-dr validate --direct`` can run them without Temporal when the
orchestrator itself is what is down; :class:`OdooActivities` wraps them for
the worker, with heartbeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.odoo_checks import fingerprint
from activities.odoo_checks.catalogue import run_catalogue, select_checks
from activities.odoo_probes import probe_application
from activities.postgres import copy_conninfo, node_conninfo, serving_node
from odoo_dr.errors import BAD_INPUT
from odoo_dr.inventory import Environment, Inventory, PostgresNode
from odoo_dr.secrets import resolve_secret
from odoo_dr.validation import (
    CheckResult,
    Expectations,
    Fingerprint,
    FingerprintComparison,
    ValidationInput,
    ValidationTarget,
)

HEARTBEAT_SECONDS = 5.0


class CatalogueOutcome(BaseModel):
    """The checks' results and the Odoo version the target runs."""

    odoo_version: str | None
    results: list[CheckResult]


class ComparisonOutcome(BaseModel):
    """A fingerprint comparison and its verdict as a check result.

    With them, the target's own fingerprint, taken by the same reads.
    """

    comparison: FingerprintComparison | None
    result: CheckResult
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True)
class ResolvedTarget:
    """Where a validation target is, once the inventory has been read."""

    conninfo: str
    label: str
    region: str
    filestore: Path | None


def resolve_target(env: Environment, target: ValidationTarget) -> ResolvedTarget:
    """Turn a target named by the runbook into a connection and a filestore.

    Raises:
        ApplicationError: the target names a node the environment lacks
            (non-retryable).
    """
    node, region = _node(env, target.node)
    database = target.database or env.odoo.database
    if target.host or target.port:
        # A copy (a drill's, a point-in-time restore's) answers to the
        # credentials of the production cluster it was restored from.
        host, port = target.host or node.host, target.port or node.port
        if target.drill_id:
            conninfo = copy_conninfo(env, target.drill_id, host, port, database)
        else:
            conninfo = node_conninfo(env.primary(), database, host=host, port=port)
        label = target.label or f"copy at {host}:{port}"
    else:
        conninfo = node_conninfo(node, database)
        label = target.label or f"node {node.name} ({region})"
    root = target.filestore or env.odoo.filestore
    return ResolvedTarget(
        conninfo=conninfo,
        label=label,
        region=target.region or region,
        filestore=Path(root) / database if root else None,
    )


def _node(env: Environment, name: str | None) -> tuple[PostgresNode, str]:
    # No name: the node that serves writes now, wherever a region move put it.
    name = name or serving_node(env).name
    for region_name, region in env.regions.items():
        for node in region.postgres:
            if node.name == name:
                return node, region_name
    known = ", ".join(node.name for node in env.all_nodes())
    raise ApplicationError(
        f"environment {env.name} has no PostgreSQL node {name!r} (known: {known})",
        type=BAD_INPUT,
        non_retryable=True,
    )


def expectations(
    env: Environment, target: ResolvedTarget, given: Expectations
) -> Expectations:
    """What the runbook expects, completed from the inventory."""
    return Expectations(
        database_uuid=given.database_uuid or env.odoo.database_uuid,
        base_url=given.base_url or env.odoo.base_url(target.region),
        paused_crons=given.paused_crons,
    )


async def check_database(
    env: Environment, request: ValidationInput
) -> CatalogueOutcome:
    """Run the catalogue's checks of ``request.areas`` on the target."""
    try:
        checks = select_checks(request.areas)
    except ValueError as exc:
        raise ApplicationError(str(exc), type=BAD_INPUT, non_retryable=True) from None
    target = resolve_target(env, request.target)
    version, results = await run_catalogue(
        target.conninfo,
        inventory_version=env.odoo.version,
        expected=expectations(env, target, request.expected),
        checks=checks,
        filestore=target.filestore,
        attachments_sample=request.attachments,
    )
    return CatalogueOutcome(odoo_version=version, results=results)


async def take_fingerprint(
    env: Environment, target: ValidationTarget, with_figures: bool = True
) -> Fingerprint:
    """A fingerprint of the target database, named by its label."""
    resolved = resolve_target(env, target)
    async with await psycopg.AsyncConnection.connect(resolved.conninfo) as conn:
        return await fingerprint.capture(
            conn, resolved.label, with_figures=with_figures
        )


async def compare_with_fingerprint(
    env: Environment,
    taken: Fingerprint,
    target: ValidationTarget,
    witness: ValidationTarget | None,
    target_point: datetime | None,
    with_figures: bool = True,
    cutoff: datetime | None = None,
) -> ComparisonOutcome:
    """Hold a fingerprint against the target, explained through the witness.

    With ``cutoff``, the transactions between the two points that committed
    up to it are counted apart (see :func:`fingerprint.hold_against`).
    """
    resolved = resolve_target(env, target)
    async with contextlib.AsyncExitStack() as stack:
        try:
            conn, helper = [
                await stack.enter_async_context(
                    await psycopg.AsyncConnection.connect(resolved.conninfo)
                )
                for _ in range(2)
            ]
            other = None
            if witness is not None:
                other = await stack.enter_async_context(
                    await psycopg.AsyncConnection.connect(
                        resolve_target(env, witness).conninfo
                    )
                )
        except psycopg.OperationalError as exc:
            return ComparisonOutcome(
                comparison=None,
                result=CheckResult(
                    name="fingerprint.compare",
                    area="fingerprint",
                    verdict="fail",
                    summary=f"could not reach the target or witness: "
                    f"{str(exc).splitlines()[0]}",
                    hint="the comparison needs both databases to answer",
                ),
            )
        comparison, own = await fingerprint.hold_against(
            taken,
            conn,
            other,
            target_point,
            resolved.label,
            helper,
            with_figures,
            cutoff,
        )
    result = fingerprint.comparison_result(comparison, taken, witness is not None)
    return ComparisonOutcome(comparison=comparison, result=result, fingerprint=own)


async def probe(env: Environment, request: ValidationInput) -> list[CheckResult]:
    """Probe the Odoo application serving the target's region."""
    target = resolve_target(env, request.target)
    settings = env.odoo.validation
    password = resolve_secret(settings.password) if settings.password else None
    return await probe_application(
        env.odoo.base_url(target.region),
        database=request.target.database or env.odoo.database,
        expected_version=env.odoo.version,
        login=settings.login,
        password=password,
        canary=request.canary and settings.canary,
        label=target.label,
    )


class OdooActivities:
    """Validation of an Odoo database and application, for the worker."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def run_validation_checks(self, request: ValidationInput) -> CatalogueOutcome:
        """Run the catalogue on the target of ``request``.

        Changes nothing: one read-only snapshot, and files only read.
        Retrying is safe. Findings are results, never errors; gives up
        (non-retryable) on an unknown node or area.
        """
        env = self._inventory.environment(request.environment)
        async with _heartbeating():
            return await check_database(env, request)

    @activity.defn
    async def capture_fingerprint(
        self, environment: str, target: ValidationTarget, with_figures: bool = True
    ) -> Fingerprint:
        """Take a fingerprint of the target. Read-only; retrying is safe."""
        env = self._inventory.environment(environment)
        async with _heartbeating():
            return await take_fingerprint(env, target, with_figures)

    @activity.defn
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
        """Compare a fingerprint with the target. Read-only; retrying is safe."""
        env = self._inventory.environment(environment)
        async with _heartbeating():
            return await compare_with_fingerprint(
                env, taken, target, witness, target_point, with_figures, cutoff
            )

    @activity.defn
    async def probe_odoo(self, request: ValidationInput) -> list[CheckResult]:
        """Probe Odoo's endpoints for the target's region.

        Only reads, except the optional canary, which removes what it wrote
        (and reports a record it could not remove). Retrying is safe.
        """
        env = self._inventory.environment(request.environment)
        return await probe(env, request)


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat while a long read runs, so a dead worker is noticed."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    task: asyncio.Task[Any] = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
