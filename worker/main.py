"""The worker process: client, data converter, tracing, registration, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from odoo_dr.inventory import Inventory
from odoo_dr.names import TASK_QUEUE
from worker.converter import data_converter
from worker.interceptors import RefuseBadInputInterceptor
from worker.registry import WORKFLOWS, activities_for
from worker.telemetry import tracing_interceptor

logger = logging.getLogger(__name__)

# How long running activities may finish after SIGTERM before they are cancelled.
_GRACE = timedelta(seconds=20)


async def connect(address: str, namespace: str = "default") -> Client:
    """Connect to Temporal with the pydantic converter and tracing."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter,
        interceptors=[tracing_interceptor()],
    )


def build_worker(
    client: Client,
    inventory: Inventory,
    task_queue: str = TASK_QUEUE,
    version: WorkerDeploymentVersion | None = None,
) -> Worker:
    """A worker with every workflow and activity of odoo-dr.

    With ``version`` (a Worker Deployment and a build id) the worker is
    versioned, and every run it starts stays pinned to that build: an
    upgrade leaves the runs in flight to the release that began them.
    """
    deployment = None
    if version is not None:
        deployment = WorkerDeploymentConfig(
            version=version,
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED,
        )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(inventory),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        interceptors=[RefuseBadInputInterceptor()],
        graceful_shutdown_timeout=_GRACE,
        deployment_config=deployment,
    )


async def run_worker(
    address: str,
    inventory: Inventory,
    namespace: str = "default",
    task_queue: str = TASK_QUEUE,
    version: WorkerDeploymentVersion | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly.

    On the signal the worker stops polling, gives running activities a grace
    period to finish, and exits; Temporal hands unfinished work to another
    worker.
    """
    client = await connect(address, namespace)
    worker = build_worker(client, inventory, task_queue, version)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "worker polling %s on %s (namespace %s, %s)",
        task_queue,
        address,
        namespace,
        f"build {version.build_id} of deployment {version.deployment_name}"
        if version
        else "unversioned",
    )
    async with worker:
        await stop.wait()
        logger.info("worker shutting down")
    logger.info("worker stopped")
