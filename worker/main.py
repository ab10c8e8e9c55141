"""The worker process: client, data converter, tracing, registration, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

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
    client: Client, inventory: Inventory, task_queue: str = TASK_QUEUE
) -> Worker:
    """A worker with every workflow and activity of odoo-dr."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(inventory),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        interceptors=[RefuseBadInputInterceptor()],
        graceful_shutdown_timeout=_GRACE,
    )


async def run_worker(
    address: str,
    inventory: Inventory,
    namespace: str = "default",
    task_queue: str = TASK_QUEUE,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly.

    On the signal the worker stops polling, gives running activities a grace
    period to finish, and exits; Temporal hands unfinished work to another
    worker.
    """
    client = await connect(address, namespace)
    worker = build_worker(client, inventory, task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "worker polling %s on %s (namespace %s)", task_queue, address, namespace
    )
    async with worker:
        await stop.wait()
        logger.info("worker shutting down")
    logger.info("worker stopped")
