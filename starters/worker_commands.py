"""``odoo-dr worker``: run the worker process."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import TYPE_CHECKING, Any

from odoo_dr.errors import OdooDrError
from odoo_dr.names import TASK_QUEUE
from starters.settings import read_inventory, temporal_target

if TYPE_CHECKING:
    from temporalio.common import WorkerDeploymentVersion


def register(commands: Any) -> None:
    """Add the ``worker`` command."""
    from starters.cli import add_inventory_argument

    parser = commands.add_parser("worker", help="run a worker until SIGTERM")
    add_inventory_argument(parser)
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("ODOO_DR_TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (default: $ODOO_DR_TEMPORAL_NAMESPACE or default)",
    )
    parser.add_argument("--task-queue", default=TASK_QUEUE)
    parser.add_argument(
        "--deployment",
        default=os.environ.get("ODOO_DR_WORKER_DEPLOYMENT"),
        help="Worker Deployment name: runs stay pinned to the build that "
        "started them (default: $ODOO_DR_WORKER_DEPLOYMENT, else unversioned)",
    )
    parser.add_argument(
        "--build-id",
        default=os.environ.get("ODOO_DR_BUILD_ID"),
        help="this release's build id in the deployment (default: $ODOO_DR_BUILD_ID)",
    )
    parser.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging

    from worker.main import run_worker

    logging.getLogger().setLevel(logging.INFO)
    version = _version(args.deployment, args.build_id)
    inventory = read_inventory(args.inventory)
    asyncio.run(
        run_worker(
            temporal_target(args.address),
            inventory,
            namespace=args.namespace,
            task_queue=args.task_queue,
            version=version,
        )
    )
    return 0


def _version(
    deployment: str | None, build_id: str | None
) -> WorkerDeploymentVersion | None:
    """The Worker Deployment Version the worker serves; None when unversioned.

    Raises:
        OdooDrError: one of the two given without the other.
    """
    if not deployment and not build_id:
        return None
    if not deployment or not build_id:
        raise OdooDrError(
            "a versioned worker needs both --deployment and --build-id "
            "(or $ODOO_DR_WORKER_DEPLOYMENT and $ODOO_DR_BUILD_ID)"
        )
    from temporalio.common import WorkerDeploymentVersion

    return WorkerDeploymentVersion(deployment_name=deployment, build_id=build_id)
