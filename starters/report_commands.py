"""``odoo-dr report``: fetch a finished run's evidence and check it.

A runbook's result, kept in its Temporal history, names where its evidence
report is stored and the SHA-256 of the stored JSON. The command fetches that
JSON from the environment's object store, computes its SHA-256 and compares:
equal digests mean the report is byte for byte the one the run produced.

The JSON is printed as fetched, so its digest can be checked again with
``sha256sum``; the Markdown and HTML forms are rendered from the verified
JSON, not read from the pages beside it, whose bytes the history does not
cover.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from activities.evidence import Verification, fetch_and_verify
from odoo_dr.errors import OdooDrError
from odoo_dr.evidence import EvidenceReport, StoredReport
from odoo_dr.evidence_render import render_html, render_markdown
from odoo_dr.inventory import Inventory, ObjectStore
from starters.settings import read_inventory, temporal_target

Format = Literal["json", "markdown", "html"]
EXIT_MISMATCH = 1


def register(commands: Any) -> None:
    """Add the ``report`` command."""
    from starters.cli import add_inventory_argument

    parser = commands.add_parser(
        "report",
        help="fetch a finished run's evidence report and check it against the "
        "run's history",
    )
    parser.add_argument("workflow_id", metavar="WORKFLOW-ID")
    parser.add_argument("--run-id", help="one run of the workflow (default: latest)")
    parser.add_argument(
        "--format",
        choices=("json", "markdown", "html"),
        default="markdown",
        help="what to print or write (default: markdown)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write the report here, not to stdout"
    )
    add_inventory_argument(parser)
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("ODOO_DR_TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (default: $ODOO_DR_TEMPORAL_NAMESPACE or default)",
    )
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    inventory = read_inventory(args.inventory)
    result = asyncio.run(_run_result(args))
    stored = stored_evidence(result, args.workflow_id)
    store = evidence_store(inventory, result.get("environment"), stored)
    return verify_and_print(stored, store, args.format, args.out)


async def _run_result(args: argparse.Namespace) -> dict[str, Any]:
    """The finished run's result, as the JSON object its history holds."""
    from temporalio.service import RPCError, RPCStatusCode

    from worker.main import connect

    address = temporal_target(args.address)
    which = args.workflow_id + (f" ({args.run_id})" if args.run_id else "")
    try:
        client = await connect(address, args.namespace)
    except RuntimeError as exc:
        raise OdooDrError(f"cannot reach Temporal at {address}: {exc}") from None
    try:
        handle = client.get_workflow_handle(args.workflow_id, run_id=args.run_id)
        described = await handle.describe()
        status = described.status.name if described.status else "UNKNOWN"
        if status == "RUNNING":
            raise OdooDrError(
                f"run {which} is still running: its evidence is stored when it ends"
            )
        if status != "COMPLETED":
            raise OdooDrError(
                f"run {which} ended {status} without a report, so it has no "
                "stored evidence"
            )
        pinned = client.get_workflow_handle(args.workflow_id, run_id=described.run_id)
        result = await pinned.result(follow_runs=False)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise OdooDrError(
                f"no run {which} in namespace {args.namespace} at {address}"
            ) from None
        raise OdooDrError(f"cannot read run {which}: {exc}") from None
    if not isinstance(result, dict):
        raise OdooDrError(f"run {which} returned no report, so it has no evidence")
    return result


def stored_evidence(result: dict[str, Any], workflow_id: str) -> StoredReport:
    """Where the run's result says its evidence is, and the digest it recorded.

    Raises:
        OdooDrError: the result names no stored evidence, or not in a form
            this version reads.
    """
    evidence = result.get("evidence")
    if evidence is None:
        raise OdooDrError(f"run {workflow_id} has no stored evidence")
    try:
        return StoredReport.model_validate(evidence)
    except ValidationError as exc:
        raise OdooDrError(
            f"run {workflow_id} names its evidence in a form this version cannot "
            f"read ({exc.error_count()} error(s))"
        ) from None


def evidence_store(
    inventory: Inventory, environment: object, stored: StoredReport
) -> ObjectStore:
    """The environment's object store, on the bucket the run stored into.

    The inventory gives the endpoint and the credentials; the bucket is the
    one the run recorded, should the inventory name another one since.

    Raises:
        OdooDrError: the result names no environment, or one the inventory
            does not have.
    """
    if not isinstance(environment, str):
        raise OdooDrError("the run's report names no environment")
    store = inventory.environment(environment).object_store
    return store.model_copy(update={"bucket": stored.bucket})


def verify_and_print(
    stored: StoredReport, store: ObjectStore, fmt: Format, out: Path | None
) -> int:
    """Fetch the stored JSON, check its digest, then print or write the report.

    The verdict line goes to standard output when the report goes to a file,
    and to standard error when the report itself goes to standard output.
    Returns 0 when the digests match, :data:`EXIT_MISMATCH` when not.

    Raises:
        OdooDrError: nothing is stored there, the store cannot be read, or
            ``out`` cannot be written.
    """
    check = fetch_and_verify(store, stored.key, stored.sha256)
    report = check.report
    if not check.matches or report is None:
        print(_mismatch(check, stored, store), file=sys.stderr)
        return EXIT_MISMATCH
    document = check.data if fmt == "json" else render(report, fmt).encode()
    status = sys.stderr if out is None else sys.stdout
    if out is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
    else:
        try:
            out.write_bytes(document)
        except OSError as exc:
            raise OdooDrError(f"cannot write {out}: {exc.strerror}") from None
    print(
        f"verified: sha256 {check.sha256} of s3://{check.bucket}/{check.key} "
        f"(version {check.version_id or 'unversioned'}) matches the run's history",
        file=status,
    )
    print(f"protection: {stored.object_lock}", file=status)
    if out is not None:
        print(f"wrote the {fmt} report to {out}", file=status)
    return 0


def render(report: EvidenceReport, fmt: Format) -> str:
    """The verified report as Markdown or HTML."""
    return render_html(report) if fmt == "html" else render_markdown(report)


def _mismatch(check: Verification, stored: StoredReport, store: ObjectStore) -> str:
    lines = [
        f"odoo-dr: MISMATCH: s3://{check.bucket}/{check.key} (version "
        f"{check.version_id or 'unversioned'}) has sha256 {check.sha256}, but the "
        f"run's history records {stored.sha256}: it is not the report the run "
        "stored"
    ]
    if stored.version_id and stored.version_id != check.version_id:
        lines.append(_original(stored, store))
    return "\n".join(lines)


def _original(stored: StoredReport, store: ObjectStore) -> str:
    """What became of the version the run wrote, after a later one replaced it."""
    try:
        first = fetch_and_verify(store, stored.key, stored.sha256, stored.version_id)
    except OdooDrError as exc:
        return f"odoo-dr: the version {stored.version_id} the run stored: {exc}"
    if first.matches:
        return (
            f"odoo-dr: the version {stored.version_id} the run stored still "
            "matches; a later write replaced it as the current object"
        )
    return (
        f"odoo-dr: the version {stored.version_id} the run stored has sha256 "
        f"{first.sha256}: it does not match either"
    )
