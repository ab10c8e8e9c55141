"""``odoo-dr approve | reject | status | keys``: people steer a running runbook.

A vote goes to a run, not to a task queue. The command asks the run's
``gates`` query for the gate's current request id, builds a ballot (signed
with the approver's Ed25519 key when one is given), and sends it as the
Temporal Update ``approve`` or ``reject``. The ballot's nonce is the update
id, so a vote sent again after a lost answer counts once. The run's
validator answers at once: a refused vote changes nothing, and the command
prints the reason and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import stat
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from odoo_dr.approvals import Ballot, Decision, GateState
from odoo_dr.errors import OdooDrError, SecretError
from odoo_dr.models import RunbookStatus
from odoo_dr.signing import new_key_pair, new_nonce, public_key_of, sign_vote
from starters.settings import run_link, temporal_target, temporal_ui

if TYPE_CHECKING:
    from temporalio.client import WorkflowHandle
    from temporalio.service import RPCError

# How long a command waits for the run's worker to answer a query or a vote.
DEFAULT_WAIT = 60.0


def register(commands: Any) -> None:
    """Add the ``approve``, ``reject``, ``status`` and ``keys`` commands."""
    for decision, help_text in (
        ("approve", "approve an open gate of a running runbook"),
        ("reject", "reject an open gate: the runbook stops safely"),
    ):
        vote = commands.add_parser(decision, help=help_text)
        vote.add_argument("workflow_id", metavar="WORKFLOW-ID")
        vote.add_argument("gate", metavar="GATE", help="e.g. sign_off_payroll")
        vote.add_argument(
            "--as",
            dest="person",
            help="your person id in the inventory "
            "(default: $ODOO_DR_APPROVER, else your login name)",
        )
        vote.add_argument("--role", help="the role you vote in, if you hold several")
        vote.add_argument("--comment", default="", help="recorded with the vote")
        vote.add_argument(
            "--key",
            type=Path,
            metavar="FILE",
            help="file with your base64 Ed25519 private key, to sign the vote "
            "(default: $ODOO_DR_SIGNING_KEY)",
        )
        vote.add_argument(
            "--nonce",
            metavar="NONCE",
            help="resend a vote whose answer was lost: it counts once",
        )
        _add_connection_arguments(vote)
        vote.set_defaults(handler=_vote, decision=decision)

    status = commands.add_parser(
        "status", help="phase, step, what a run waits for, its gates and votes"
    )
    status.add_argument("workflow_id", metavar="WORKFLOW-ID")
    status.add_argument("--json", action="store_true", help="print JSON")
    _add_connection_arguments(status)
    status.set_defaults(handler=_status)

    keys = commands.add_parser("keys", help="signing keys for approvals")
    verbs = keys.add_subparsers(title="keys commands", metavar="VERB")
    generate = verbs.add_parser(
        "generate", help="make a key pair; print the public key for the inventory"
    )
    generate.add_argument(
        "--out", type=Path, required=True, help="file for the private key (0600)"
    )
    generate.set_defaults(handler=_keys_generate)


def _add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="Temporal frontend host:port")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("ODOO_DR_TEMPORAL_NAMESPACE", "default"),
        help="Temporal namespace (default: $ODOO_DR_TEMPORAL_NAMESPACE or default)",
    )
    parser.add_argument("--ui", help="Temporal web UI base address")
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for the run's worker (default {DEFAULT_WAIT:.0f})",
    )


# --- approve and reject ------------------------------------------------------


def _vote(args: argparse.Namespace) -> int:
    decision: Decision = args.decision
    person = args.person or os.environ.get("ODOO_DR_APPROVER") or getpass.getuser()
    key_file = args.key or _path_from_env("ODOO_DR_SIGNING_KEY")
    # The key is read before anything is sent: a bad key file changes nothing.
    private_key = read_signing_key(key_file) if key_file else None
    gate = asyncio.run(_send_vote(args, decision, person, private_key))
    print(f"{person} {_PAST[decision]} gate {gate.name}: the gate is {gate.outcome}")
    print(render_gate(gate))
    return 0


_PAST: dict[Decision, str] = {"approve": "approved", "reject": "rejected"}


def _path_from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def read_signing_key(path: Path) -> str:
    """The base64 private key in ``path``, refused when others can read it.

    Raises:
        SecretError: the file cannot be read, is open to other users, or
            holds no Ed25519 private key (its content is never shown).
    """
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretError(
                f"signing key {path} is open to other users (mode "
                f"{stat.S_IMODE(mode):04o}); run chmod 600 {path}"
            )
        private_key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"cannot read signing key {path}: {exc.strerror}") from None
    public_key_of(private_key)
    return private_key


async def _send_vote(
    args: argparse.Namespace,
    decision: Decision,
    person: str,
    private_key: str | None,
) -> GateState:
    run = await _open_run(args)
    gate = _find_gate(await run.gates(), args.gate, args.workflow_id)
    if gate.policy.signed and private_key is None:
        raise OdooDrError(
            f"gate {gate.name} needs a signed vote: pass --key FILE or set "
            "ODOO_DR_SIGNING_KEY (odoo-dr keys generate makes a key pair)"
        )
    nonce = args.nonce or new_nonce()
    try:
        ballot = Ballot(
            gate=gate.name,
            request_id=gate.request_id,
            person=person,
            role=args.role,
            channel="cli",
            comment=args.comment,
            nonce=nonce,
            signature=sign_vote(private_key, run.run_id, gate.name, decision, nonce)
            if private_key
            else None,
            signer=person if private_key else None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OdooDrError(f"bad {first['loc'][0]}: {first['msg']}") from None
    return await run.vote(decision, ballot)


def _find_gate(gates: list[GateState], name: str, workflow_id: str) -> GateState:
    """The gate called ``name``; a closed one too, so the run says why not."""
    for gate in gates:
        if gate.name == name:
            return gate
    known = ", ".join(f"{g.name} ({g.outcome})" for g in gates)
    raise OdooDrError(
        f"run {workflow_id} has no gate {name!r} "
        + (f"(its gates: {known})" if known else "(no gate has opened yet)")
    )


# --- one run -----------------------------------------------------------------


@dataclass
class _Run:
    """A running (or finished) runbook, pinned to its current run id."""

    handle: WorkflowHandle[Any, Any]
    workflow_id: str
    run_id: str
    execution: str
    wait: timedelta

    async def gates(self) -> list[GateState]:
        return list(await self._query("gates", list[GateState]))

    async def status(self) -> RunbookStatus:
        return await self._query("status", RunbookStatus)

    async def _query(self, name: str, result_type: Any) -> Any:
        from temporalio.client import WorkflowQueryFailedError
        from temporalio.service import RPCError

        try:
            return await self.handle.query(
                name, result_type=result_type, rpc_timeout=self.wait
            )
        except WorkflowQueryFailedError as exc:
            raise OdooDrError(
                f"run {self.workflow_id} cannot answer query {name!r}: {exc}"
            ) from None
        except RPCError as exc:
            raise OdooDrError(self._rpc_problem(exc, f"query {name!r}")) from None

    async def vote(self, decision: Decision, ballot: Ballot) -> GateState:
        """Send the ballot as an Update; its nonce is the update id.

        Raises:
            OdooDrError: the run's validator refused the vote (nothing
                changed), the run has ended, or no worker answered in time.
        """
        from temporalio.client import WorkflowUpdateFailedError
        from temporalio.service import RPCError

        from starters.voting import send_vote

        try:
            gate = await asyncio.wait_for(
                send_vote(self.handle, decision, ballot, ballot.nonce),
                timeout=self.wait.total_seconds(),
            )
        except WorkflowUpdateFailedError as exc:
            reason = getattr(exc.cause, "message", None) or str(exc.cause)
            raise OdooDrError(f"vote refused: {reason} (nothing changed)") from None
        except RPCError as exc:
            raise OdooDrError(self._rpc_problem(exc, "the vote")) from None
        except TimeoutError:
            raise OdooDrError(
                f"no worker answered the vote within {self.wait.total_seconds():.0f}"
                f" s. It stays queued and is judged when a worker polls again; "
                f"to resend it so that it counts once, add --nonce {ballot.nonce}"
            ) from None
        return gate

    def _rpc_problem(self, exc: RPCError, what: str) -> str:
        from temporalio.service import RPCStatusCode

        status = exc.status
        if status == RPCStatusCode.DEADLINE_EXCEEDED:
            return (
                f"no worker answered {what} within {self.wait.total_seconds():.0f} s: "
                "is a worker polling the run's task queue (odoo-dr worker)?"
            )
        if status == RPCStatusCode.NOT_FOUND and self.execution != "RUNNING":
            return f"run {self.workflow_id} has ended ({self.execution}): {exc}"
        return f"{what} to run {self.workflow_id} failed: {exc}"


async def _open_run(args: argparse.Namespace) -> _Run:
    from temporalio.service import RPCError, RPCStatusCode

    from worker.main import connect

    address = temporal_target(args.address)
    try:
        client = await connect(address, args.namespace)
    except RuntimeError as exc:
        raise OdooDrError(f"cannot reach Temporal at {address}: {exc}") from None
    try:
        described = await client.get_workflow_handle(args.workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise OdooDrError(
                f"no run {args.workflow_id!r} in namespace {args.namespace} "
                f"at {address}"
            ) from None
        raise OdooDrError(f"cannot look up run {args.workflow_id}: {exc}") from None
    # Pin the run: a signature covers this run id, and a vote must not reach
    # a later run of the same workflow id.
    return _Run(
        handle=client.get_workflow_handle(args.workflow_id, run_id=described.run_id),
        workflow_id=args.workflow_id,
        run_id=described.run_id,
        execution=described.status.name if described.status else "UNKNOWN",
        wait=timedelta(seconds=args.wait),
    )


# --- status ------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    run, status, gates = asyncio.run(_read_status(args))
    if args.json:
        print(
            json.dumps(
                {
                    "workflow_id": run.workflow_id,
                    "run_id": run.run_id,
                    "execution": run.execution,
                    "status": status.model_dump(mode="json"),
                    "gates": [g.model_dump(mode="json") for g in gates],
                },
                indent=2,
            )
        )
        return 0
    print(render_status(run.workflow_id, run.run_id, run.execution, status, gates))
    link = run_link(temporal_ui(args.ui), run.workflow_id, run.run_id)
    if link:
        print(f"run in the Temporal UI: {link}")
    return 0


async def _read_status(
    args: argparse.Namespace,
) -> tuple[_Run, RunbookStatus, list[GateState]]:
    run = await _open_run(args)
    return run, await run.status(), await run.gates()


def render_status(
    workflow_id: str,
    run_id: str,
    execution: str,
    status: RunbookStatus,
    gates: list[GateState],
) -> str:
    """A run's status and gates as a person reads them in a terminal."""
    lines = [
        f"{status.runbook} of {status.environment}: {execution}",
        f"  run          {workflow_id} / {run_id}",
        f"  started      {_when(status.started_at)}",
        f"  phase        {status.phase}",
        f"  step         {status.step or '-'}",
        f"  waiting for  {status.waiting_for or 'nothing'}",
    ]
    for step in status.steps:
        took = (
            f"{(step.ended_at - step.started_at).total_seconds():7.1f} s"
            if step.ended_at
            else "    ... "
        )
        lines.append(f"  step {step.outcome:<8} {took}  {step.name}")
    if not gates:
        lines.append("  gates        none opened yet")
    for gate in gates:
        lines.append(render_gate(gate, indent="  "))
    return "\n".join(lines)


def render_gate(gate: GateState, indent: str = "") -> str:
    """One gate: what it asks, its rule, the votes so far and any refusals."""
    policy = gate.policy
    rule = [
        f"{policy.quorum} approval(s) from {' or '.join(policy.roles)}",
        "distinct roles" if policy.distinct_roles else "",
        "two-person rule" if policy.two_person else "",
        "signed votes only" if policy.signed else "",
    ]
    if gate.outcome == "open":
        ends = f"times out {_when(gate.opened_at + policy.timeout)}"
    else:
        ends = f"closed {_when(gate.closed_at)}" if gate.closed_at else "closed"
    lines = [
        f"gate {gate.name}: {gate.outcome.replace('_', ' ')} "
        f"(request {gate.request_id}, opened {_when(gate.opened_at)}, {ends})",
        f"  asks       {gate.what}",
        f"  rule       {', '.join(part for part in rule if part)}",
    ]
    lines += [f"  evidence   {line}" for line in gate.evidence]
    for vote in gate.votes:
        signed = f", signed by {vote.verified_signer}" if vote.verified_signer else ""
        said = f': "{vote.comment}"' if vote.comment else ""
        lines.append(
            f"  vote       {vote.decision} by {vote.person} as {vote.role} via "
            f"{vote.channel} at {_when(vote.at)}{signed}{said}"
        )
    if not gate.votes:
        lines.append("  vote       none yet")
    for refused in gate.refused:
        lines.append(
            f"  refused    {refused.decision} by {refused.person} via "
            f"{refused.channel} at {_when(refused.at)}: {refused.reason}"
        )
    if gate.escalated_to:
        lines.append(f"  escalated  to {', '.join(gate.escalated_to)}")
    return "\n".join(indent + line for line in lines)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "-"


# --- keys --------------------------------------------------------------------


def _keys_generate(args: argparse.Namespace) -> int:
    private_key, public_key = new_key_pair()
    out: Path = args.out
    try:
        # O_EXCL: an existing key is never replaced, even by a race.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise OdooDrError(
            f"{out} exists; a signing key is never overwritten (move it away "
            "first; the inventory then needs the new public key)"
        ) from None
    except OSError as exc:
        raise OdooDrError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as key_file:
        os.fchmod(key_file.fileno(), 0o600)
        key_file.write(private_key + "\n")
    print(
        f"wrote the private key to {out} (mode 0600); keep it there. Paste this "
        "line into your entry under approvals.people in the inventory:",
        file=sys.stderr,
    )
    print(f"public_key: {public_key}")
    return 0
