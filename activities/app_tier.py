"""Activities on Odoo's application tier: quiesce, point at a database, resume.

Each deployment of the inventory is driven by its kind: ``process`` through
its control file (odoo_dr.app_control; the sandbox's writers), and
``kubernetes`` through the Kubernetes API (activities.kubernetes: scale,
patch the database pointer, roll out). Other kinds (``ssh``) are reported
as skipped, never pretended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hosts import beat
from activities.kubernetes import (
    point_deployment,
    quiesce_deployment,
    resume_deployment,
)
from odoo_dr.app_control import (
    AppOrder,
    AppStatus,
    process_alive,
    read_order,
    read_status,
    write_order,
)
from odoo_dr.cutover import AppTierStep
from odoo_dr.inventory import (
    Environment,
    Inventory,
    KubernetesCluster,
    OdooDeployment,
)

POLL_SECONDS = 0.02
ANSWER_TIMEOUT_SECONDS = 60.0


class AppTierActivities:
    """Stopping, repointing and starting Odoo's processes of one region."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def quiesce_app_tier(
        self, environment: str, region: str
    ) -> list[AppTierStep]:
        """Stop Odoo's web, cron and workers of ``region``; wait until idle.

        A process app is told to pause and answers once it has no
        transaction in flight and no connection open. Retrying is safe: a
        paused app is left paused. Raises (retryable) when an app that runs
        does not answer within a minute.
        """
        env = self._inventory.environment(environment)
        steps = []
        for d in _deployments(env, region):
            if d.kind == "kubernetes":
                steps.append(await quiesce_deployment(_cluster(env, d), d))
                continue
            steps.append(await _order(d, _set(paused=True), "quiesced"))
        return steps

    @activity.defn
    async def point_app_tier(
        self, environment: str, region: str, host: str, port: int
    ) -> list[AppTierStep]:
        """Point ``region``'s Odoo at the database on ``host``:``port``.

        Changes only the database address the apps read; paused apps stay
        paused. Retrying is safe: an app already pointed there is unchanged.
        """
        env = self._inventory.environment(environment)
        change = {"host": host, "port": port}
        steps = []
        for d in _deployments(env, region):
            if d.kind == "kubernetes":
                steps.append(await point_deployment(_cluster(env, d), d, host, port))
                continue
            steps.append(await _order(d, _set(**change), "pointed"))
        return steps

    @activity.defn
    async def serve_app_tier(
        self, environment: str, region: str, host: str, port: int
    ) -> list[AppTierStep]:
        """Point ``region``'s Odoo at ``host``:``port`` and start it: one step.

        The two orders of :meth:`point_app_tier` and :meth:`resume_app_tier`
        in one activity, to keep the write outage of a region move short.
        Retrying is safe for the same reasons as theirs.
        """
        pointed = await self.point_app_tier(environment, region, host, port)
        return [*pointed, *await self.resume_app_tier(environment, region)]

    @activity.defn
    async def resume_app_tier(self, environment: str, region: str) -> list[AppTierStep]:
        """Start ``region``'s Odoo again and wait until it runs.

        Retrying is safe: a running app is left running. An app whose
        process is gone is reported, not waited for.
        """
        env = self._inventory.environment(environment)
        steps = []
        for d in _deployments(env, region):
            if d.kind == "kubernetes":
                steps.append(await resume_deployment(_cluster(env, d), d))
                continue
            steps.append(await _order(d, _set(paused=False), "resumed"))
        return steps


def _deployments(env: Environment, region: str) -> list[OdooDeployment]:
    return [d for d in env.odoo.deployments if d.region == region]


def _set(**change: object) -> Callable[[AppOrder], AppOrder]:
    """An order change: the current order with ``change`` applied."""
    return lambda order: order.model_copy(update=change)


def _cluster(env: Environment, deployment: OdooDeployment) -> KubernetesCluster | None:
    """The region's cluster settings; None: the worker's own configuration."""
    return env.kubernetes.get(deployment.region)


async def _order(
    deployment: OdooDeployment,
    change: Callable[[AppOrder], AppOrder],
    action: str,
) -> AppTierStep:
    """Give one deployment a changed order and wait for its answer."""
    if deployment.kind != "process" or deployment.control_file is None:
        return AppTierStep(
            deployment=deployment.name,
            region=deployment.region,
            action="skipped",
            detail=f"kind {deployment.kind} is not driven by this step yet",
        )
    control = deployment.control_file
    current = read_order(control) or AppOrder()
    wanted = change(current).model_copy(update={"generation": current.generation})
    changed = wanted != current
    if changed:
        wanted = wanted.model_copy(update={"generation": current.generation + 1})
        write_order(control, wanted)
    detail = await _answer(control, wanted)
    return AppTierStep(
        deployment=deployment.name,
        region=deployment.region,
        action=action if changed else "unchanged",  # type: ignore[arg-type]
        detail=detail,
    )


async def _answer(control: Path, order: AppOrder) -> str:
    """Wait until the app obeys ``order``; what it answered."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ANSWER_TIMEOUT_SECONDS
    while loop.time() < deadline:
        status = read_status(control)
        if status is None or not process_alive(status.pid):
            return "no process runs this app; the order waits for it"
        if status.state == "stopped":
            return "the app's process has stopped"
        if _obeys(status, order):
            return f"{status.state} on {status.host}:{status.port}"
        beat(status.generation)
        await asyncio.sleep(POLL_SECONDS)
    raise ApplicationError(
        f"the app of {control} did not answer order {order.generation} in "
        f"{ANSWER_TIMEOUT_SECONDS:.0f} s"
    )


def _obeys(status: AppStatus, order: AppOrder) -> bool:
    wanted = "paused" if order.paused else "running"
    return status.generation >= order.generation and status.state == wanted
