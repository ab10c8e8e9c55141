"""``odoo-dr chatops serve``: the Slack bridge's HTTP endpoint."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import Any

from odoo_dr.inventory import Environment
from starters.settings import read_inventory, temporal_target


def register(commands: Any) -> None:
    """Add the ``chatops`` command group."""
    from starters.cli import add_inventory_argument

    chatops = commands.add_parser("chatops", help="the Slack chat bridge")
    verbs = chatops.add_subparsers(title="chatops commands", metavar="VERB")
    serve = verbs.add_parser(
        "serve",
        help="receive Slack slash commands and buttons; vote on gates",
        description=(
            "Serve POST /slack/commands (/dr approve|reject <workflow-id> <gate> "
            "[comment], /dr status <workflow-id>) and POST /slack/interactions "
            "(gate notice buttons) until SIGTERM. Requests are checked with the "
            "environment's chat.signing_secret."
        ),
    )
    add_inventory_argument(serve)
    serve.add_argument(
        "--env", default=None, help="environment (default: the inventory's only one)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8085, help="port to listen on")
    serve.add_argument("--address", help="Temporal frontend host:port")
    serve.add_argument(
        "--namespace",
        default=os.environ.get("ODOO_DR_TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (default: $ODOO_DR_TEMPORAL_NAMESPACE or default)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from starters.chatops import environment_of

    logging.getLogger().setLevel(logging.INFO)
    # Resolve the environment before connecting: a typo changes nothing.
    environment = environment_of(read_inventory(args.inventory), args.env)
    asyncio.run(_serve_until_signal(args, environment))
    return 0


async def _serve_until_signal(
    args: argparse.Namespace, environment: Environment
) -> None:
    from starters.chatops import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(
        temporal_target(args.address),
        args.namespace,
        environment,
        args.host,
        args.port,
        stop,
    )
