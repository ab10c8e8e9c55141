"""The ``odoo-dr`` command line.

Operator output goes to standard output; logs go to standard error. Every
refused command prints one clear message and exits non-zero.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from odoo_dr.errors import OdooDrError

EXIT_REFUSED = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_REFUSED
    try:
        return int(args.handler(args) or 0)
    except OdooDrError as exc:
        print(f"odoo-dr: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("odoo-dr: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from starters import (
        approve_commands,
        chatops_commands,
        demo_commands,
        drill_commands,
        readiness_commands,
        region_commands,
        report_commands,
        sandbox_commands,
        validate_commands,
        worker_commands,
    )

    parser = argparse.ArgumentParser(
        prog="odoo-dr", description="Disaster recovery for Odoo on Temporal."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    sandbox_commands.register(commands)
    worker_commands.register(commands)
    drill_commands.register(commands)
    region_commands.register(commands)
    validate_commands.register(commands)
    readiness_commands.register(commands)
    approve_commands.register(commands)
    report_commands.register(commands)
    chatops_commands.register(commands)
    demo_commands.register(commands)
    return parser


def add_inventory_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--inventory`` option shared by commands that read the inventory."""
    parser.add_argument(
        "--inventory",
        type=Path,
        default=None,
        help="inventory file (default: $ODOO_DR_INVENTORY, else the sandbox's)",
    )


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    code = main()
    if "temporalio.bridge.temporal_sdk_bridge" in sys.modules:
        # The Temporal SDK's Rust runtime keeps threads that can abort
        # CPython's finalization ("PyGILState_Release ... must be current",
        # SIGABRT) after all work is done; temporalio/sdk-python issue 300.
        # Skip finalization once output is flushed, so the exit code is ours.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
