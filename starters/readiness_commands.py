"""``odoo-dr readiness``: can the environment still meet its recovery objectives?

Runs the readiness checks in this process, without a worker or Temporal:
they only read, and an operator wants the answer at once. Exit code 0 when
every check passes, 1 when one fails, 2 when the command was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import textwrap
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from odoo_dr.errors import OdooDrError
from odoo_dr.inventory import Duration
from odoo_dr.readiness import MAX_BACKUP_AGE, ReadinessReport, span
from starters.settings import read_inventory

EXIT_NOT_READY = 1
_CHECK_WIDTH = 17
_RESULT_WIDTH = 7


def register(commands: Any) -> None:
    """Add the ``readiness`` command."""
    from starters.cli import add_inventory_argument

    parser = commands.add_parser(
        "readiness",
        help="check that backups and WAL can still meet the recovery objectives",
    )
    add_inventory_argument(parser)
    parser.add_argument("--env", required=True, help="environment of the inventory")
    parser.add_argument(
        "--max-backup-age",
        default=None,
        metavar="DURATION",
        help=f"oldest acceptable base backup, e.g. 26h or 7d "
        f"(default {span(MAX_BACKUP_AGE.total_seconds())})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_readiness)


def _readiness(args: argparse.Namespace) -> int:
    from activities.readiness import check_environment

    max_age = _duration(args.max_backup_age) if args.max_backup_age else MAX_BACKUP_AGE
    # check_environment refuses an unknown environment before any I/O.
    inventory = read_inventory(args.inventory)
    report = asyncio.run(check_environment(inventory, args.env, max_backup_age=max_age))
    print(report.model_dump_json(indent=2) if args.json else render(report))
    return 0 if report.ready else EXIT_NOT_READY


def _duration(text: str) -> timedelta:
    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        raise OdooDrError(
            f"--max-backup-age {text!r} is not a duration (say 90m, 26h or 7d)"
        ) from None


def render(report: ReadinessReport, width: int | None = None) -> str:
    """The report as a table a person reads in a terminal."""
    width = width or max(72, shutil.get_terminal_size((100, 24)).columns)
    indent = " " * (2 + _CHECK_WIDTH + 1 + _RESULT_WIDTH + 1)
    verdict = "READY" if report.ready else "NOT READY"
    lines = [
        f"readiness of {report.environment} at "
        f"{report.checked_at:%Y-%m-%d %H:%M:%S} UTC: {verdict}",
        f"  {'CHECK':<{_CHECK_WIDTH}} {'RESULT':<{_RESULT_WIDTH}} DETAIL",
    ]
    for check in report.checks:
        result = "ok" if check.ok else "FAILED"
        head = f"  {check.name:<{_CHECK_WIDTH}} {result:<{_RESULT_WIDTH}} "
        lines += textwrap.wrap(
            check.detail, width, initial_indent=head, subsequent_indent=indent
        )
        if check.hint:
            lines += textwrap.wrap(
                f"hint: {check.hint}",
                width,
                initial_indent=indent,
                subsequent_indent=indent + "      ",
            )
    if report.objectives_at_risk:
        lines.append("  objectives at risk:")
        for sentence in report.objectives_at_risk:
            lines += textwrap.wrap(
                sentence, width, initial_indent="  - ", subsequent_indent="    "
            )
    return "\n".join(lines)
