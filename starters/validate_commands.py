"""``odoo-dr validate``: run the business validation catalogue on demand."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from odoo_dr.errors import OdooDrError
from odoo_dr.inventory import Environment
from odoo_dr.names import SA_ENVIRONMENT, SA_RUNBOOK, TASK_QUEUE
from odoo_dr.validation import (
    AttachmentSample,
    Fingerprint,
    ValidationInput,
    ValidationReport,
    ValidationTarget,
)
from starters.settings import read_inventory, run_link, temporal_target, temporal_ui

_MARK = {"pass": "pass", "warn": "WARN", "fail": "FAIL", "skipped": "skip"}


def register(commands: Any) -> None:
    """Add the ``validate`` command."""
    from starters.cli import add_inventory_argument

    parser = commands.add_parser(
        "validate", help="check that an Odoo database's books are whole"
    )
    add_inventory_argument(parser)
    parser.add_argument("--env", required=True, help="environment of the inventory")
    parser.add_argument("--target", help="PostgreSQL node name (default: primary)")
    parser.add_argument("--host", help="a copy's host (with --port)")
    parser.add_argument("--port", type=int, help="a copy's port")
    parser.add_argument("--database", help="database name (default: odoo.database)")
    parser.add_argument(
        "--area", action="append", default=[], help="only this area (repeatable)"
    )
    parser.add_argument("--compare", type=Path, help="fingerprint file to compare")
    parser.add_argument("--witness", help="node whose history explains differences")
    parser.add_argument(
        "--fingerprint-out", type=Path, help="write the target's fingerprint here"
    )
    parser.add_argument(
        "--all-attachments", action="store_true", help="hash every filestore file"
    )
    parser.add_argument("--no-probes", action="store_true", help="skip Odoo probes")
    parser.add_argument("--canary", action="store_true", help="write a canary record")
    parser.add_argument("--reason", default="validation started from the CLI")
    parser.add_argument("--task-queue", default=TASK_QUEUE, help="workers' queue")
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument("--ui", help="Temporal web UI base address")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    # Everything is checked before anything starts: a typo changes nothing.
    env = read_inventory(args.inventory).environment(args.env)
    request = build_request(args, env)
    report, link = asyncio.run(_start_and_wait(args, request))
    if args.fingerprint_out and report.fingerprint:
        args.fingerprint_out.write_text(report.fingerprint.model_dump_json(indent=1))
    print(report.model_dump_json(indent=2) if args.json else render(report))
    if link and not args.json:
        print(f"run in the Temporal UI: {link}")
    return 1 if report.verdict == "fail" else 0


def build_request(args: argparse.Namespace, env: Environment) -> ValidationInput:
    """The workflow input the command line describes.

    Raises:
        OdooDrError: an unknown node, a port without host, or a fingerprint
            file that cannot be read.
    """
    nodes = {node.name for node in env.all_nodes()}
    for name in (args.target, args.witness):
        if name is not None and name not in nodes:
            raise OdooDrError(
                f"environment {env.name} has no node {name!r} "
                f"(known: {', '.join(sorted(nodes))})"
            )
    if (args.host is None) != (args.port is None):
        raise OdooDrError("--host and --port go together (a copy's address)")
    return ValidationInput(
        environment=env.name,
        target=ValidationTarget(
            node=args.target, host=args.host, port=args.port, database=args.database
        ),
        areas=args.area,
        attachments=AttachmentSample(all=args.all_attachments),
        fingerprint=_read_fingerprint(args.compare) if args.compare else None,
        witness=ValidationTarget(node=args.witness) if args.witness else None,
        capture_fingerprint=args.fingerprint_out is not None,
        probes=not args.no_probes,
        canary=args.canary,
        requested_by=getpass.getuser(),
        reason=args.reason,
    )


def _read_fingerprint(path: Path) -> Fingerprint:
    try:
        return Fingerprint.model_validate_json(path.read_text())
    except OSError as exc:
        raise OdooDrError(f"cannot read fingerprint {path}: {exc.strerror}") from None
    except ValidationError as exc:
        raise OdooDrError(
            f"{path} is not an odoo-dr fingerprint ({exc.error_count()} error(s))"
        ) from None


async def _start_and_wait(
    args: argparse.Namespace, request: ValidationInput
) -> tuple[ValidationReport, str | None]:
    from temporalio.common import (
        SearchAttributeKey,
        SearchAttributePair,
        TypedSearchAttributes,
    )

    from worker.main import connect
    from workflows.validation import ValidateOdooWorkflow

    client = await connect(temporal_target(args.address))
    workflow_id = f"validate-{request.environment}-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        ValidateOdooWorkflow.run,
        request,
        id=workflow_id,
        task_queue=args.task_queue,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(
                    SearchAttributeKey.for_keyword(SA_ENVIRONMENT), request.environment
                ),
                SearchAttributePair(
                    SearchAttributeKey.for_keyword(SA_RUNBOOK), "validate"
                ),
            ]
        ),
        static_summary=f"Business validation of {request.environment}",
        static_details=f"Requested by {request.requested_by}: {request.reason}",
    )
    link = run_link(temporal_ui(args.ui), workflow_id, handle.result_run_id)
    print(
        f"started {workflow_id} ({link or 'no UI address known'}); waiting for a "
        f"worker on task queue {args.task_queue} (odoo-dr worker)",
        file=sys.stderr,
    )
    return await handle.result(), link


def render(report: ValidationReport) -> str:
    """The report as a table a person reads in a terminal."""
    version = f"Odoo {report.odoo_version}" if report.odoo_version else "Odoo ?"
    lines = [
        f"validation of {report.environment} / {report.target} ({version}): "
        f"{report.verdict.upper()}",
        f"  {'VERDICT':<8} {'AREA':<13} {'CHECK':<36} SUMMARY",
    ]
    for result in report.results:
        mark = _MARK[result.verdict] + ("*" if result.blocking else "")
        lines.append(
            f"  {mark:<8} {result.area:<13} {result.name:<36} {result.summary}"
        )
        if result.verdict in ("fail", "warn"):
            lines += [f"  {'':<8} e.g. {example}" for example in result.examples[:3]]
            if result.hint:
                lines.append(f"  {'':<8} hint: {result.hint}")
    if report.comparison:
        lines.append(
            f"  fingerprint: {report.comparison.direction}, "
            f"{report.comparison.transactions_between} transaction(s) between"
        )
    lines.append("  (* critical: a runbook stops on it)")
    return "\n".join(lines)
