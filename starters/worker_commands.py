"""``odoo-dr worker``: run the worker process."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from odoo_dr.names import TASK_QUEUE
from starters.settings import read_inventory, temporal_target


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
    parser.set_defaults(handler=_worker)


def _worker(args: argparse.Namespace) -> int:
    import logging

    from worker.main import run_worker

    logging.getLogger().setLevel(logging.INFO)
    inventory = read_inventory(args.inventory)
    asyncio.run(
        run_worker(
            temporal_target(args.address),
            inventory,
            namespace=args.namespace,
            task_queue=args.task_queue,
        )
    )
    return 0
