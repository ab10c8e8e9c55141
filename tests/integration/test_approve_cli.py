"""``odoo-dr approve | reject | status | keys`` from a shell, against real drills.

A restore drill of the sandbox with a payroll sign-off waits at gate
``sign_off_payroll``; the CLI votes on it as the people of the sandbox's
inventory: tom (dba) is refused, petra (payroll_lead) approves. A second
drill runs on a worker whose inventory makes that gate take signed votes only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from odoo_dr.approvals import GateState
from odoo_dr.inventory import Approver, Inventory
from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.signing import public_key_of
from tests.conftest import Sandbox
from worker.main import build_worker
from workflows.drill import RestoreDrillWorkflow

CLI = [str(Path(sys.executable).parent / "odoo-dr")]
GATE = "sign_off_payroll"


async def odoo_dr(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the sandbox's Temporal."""
    return await cli(*args, address=sandbox.address)


async def cli(*args: str, address: str = "") -> subprocess.CompletedProcess[str]:
    """Run the CLI off the event loop, so the test's worker keeps polling."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ODOO_DR_APPROVER", "ODOO_DR_SIGNING_KEY")
    }
    env["ODOO_DR_TEMPORAL_ADDRESS"] = address
    return await asyncio.to_thread(
        subprocess.run,
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


async def generate_key(path: Path) -> str:
    """A new key pair through the CLI; returns the printed public key."""
    result = await cli("keys", "generate", "--out", str(path))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().removeprefix("public_key: ")


async def start_drill(
    client: Client, task_queue: str, **options: object
) -> WorkflowHandle[RestoreDrillWorkflow, DrillReport]:
    return await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(
            environment="sandbox", sign_off=["payroll"], requested_by="maria", **options
        ),
        id=f"test-approve-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )


async def gate_of(handle: WorkflowHandle) -> GateState | None:
    gates = await handle.query(RestoreDrillWorkflow.gates)
    return next((g for g in gates if g.name == GATE), None)


async def wait_for_open_gate(handle: WorkflowHandle, timeout: float = 180) -> None:
    """Poll the ``gates`` query until the payroll sign-off is open."""
    for _ in range(int(timeout / 0.5)):
        gate = await gate_of(handle)
        if gate is not None and gate.outcome == "open":
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"gate {GATE} did not open within {timeout} s")


@dataclass
class SignOff:
    """What the CLI answered while a drill waited for its payroll sign-off."""

    workflow_id: str
    by_tom: subprocess.CompletedProcess[str]
    gate_after_tom: GateState
    by_petra: subprocess.CompletedProcess[str]
    resent_by_petra: subprocess.CompletedProcess[str]
    status: subprocess.CompletedProcess[str]
    status_json: subprocess.CompletedProcess[str]
    report: DrillReport


@pytest.fixture(scope="module")
async def sign_off(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
) -> SignOff:
    handle = await start_drill(client, task_queue)
    wid = handle.id
    await wait_for_open_gate(handle)

    by_tom = await odoo_dr(sandbox, "approve", wid, GATE, "--as", "tom")
    gate_after_tom = await gate_of(handle)
    assert gate_after_tom is not None

    vote = ("approve", wid, GATE, "--as", "petra", "--nonce", uuid.uuid4().hex)
    by_petra = await odoo_dr(sandbox, *vote, "--comment", "March payslips match")
    # The same vote again, as after an answer lost on the way: same update id.
    resent_by_petra = await odoo_dr(sandbox, *vote, "--comment", "March payslips")

    report = await handle.result()
    return SignOff(
        workflow_id=wid,
        by_tom=by_tom,
        gate_after_tom=gate_after_tom,
        by_petra=by_petra,
        resent_by_petra=resent_by_petra,
        status=await odoo_dr(sandbox, "status", wid),
        status_json=await odoo_dr(sandbox, "status", wid, "--json"),
        report=report,
    )


async def test_a_person_without_the_gates_role_is_refused_with_the_reason(
    sign_off: SignOff,
) -> None:
    assert sign_off.by_tom.returncode == 2
    assert (
        "vote refused: tom holds none of the roles this gate needs (payroll_lead)"
        in sign_off.by_tom.stderr
    )


async def test_a_refused_vote_changes_nothing(sign_off: SignOff) -> None:
    gate = sign_off.gate_after_tom
    assert (gate.outcome, gate.votes, gate.refused) == ("open", [], [])


async def test_the_payroll_lead_approves_and_sees_the_closed_gate(
    sign_off: SignOff,
) -> None:
    result = sign_off.by_petra
    assert result.returncode == 0, result.stderr
    assert "petra approved gate sign_off_payroll: the gate is approved" in result.stdout
    assert "approve by petra as payroll_lead via cli" in result.stdout


async def test_the_drill_passes_after_the_sign_off(sign_off: SignOff) -> None:
    assert sign_off.report.verdict == "pass", sign_off.report.failure
    (gate,) = sign_off.report.approvals
    assert [(v.person, v.role, v.channel) for v in gate.votes] == [
        ("petra", "payroll_lead", "cli")
    ]


async def test_a_vote_sent_again_with_its_nonce_counts_once(
    sign_off: SignOff,
) -> None:
    assert sign_off.resent_by_petra.returncode == 0, sign_off.resent_by_petra.stderr
    (gate,) = sign_off.report.approvals
    assert len(gate.votes) == 1
    assert gate.votes[0].comment == "March payslips match"


async def test_status_shows_the_phase_the_gate_and_its_vote(
    sign_off: SignOff,
) -> None:
    result = sign_off.status
    assert result.returncode == 0, result.stderr
    assert "restore-drill of sandbox: COMPLETED" in result.stdout
    assert "phase        done" in result.stdout
    assert "gate sign_off_payroll: approved" in result.stdout
    assert "approve by petra as payroll_lead via cli" in result.stdout
    assert '"March payslips match"' in result.stdout


async def test_status_json_carries_the_gates_and_votes(sign_off: SignOff) -> None:
    shown = json.loads(sign_off.status_json.stdout)
    assert shown["workflow_id"] == sign_off.workflow_id
    assert shown["status"]["runbook"] == "restore-drill"
    (gate,) = shown["gates"]
    assert (gate["name"], gate["outcome"]) == (GATE, "approved")
    assert [v["person"] for v in gate["votes"]] == ["petra"]


async def test_a_vote_for_an_unknown_run_is_refused(sandbox: Sandbox) -> None:
    result = await odoo_dr(sandbox, "approve", "no-such-run", GATE, "--as", "petra")
    assert result.returncode == 2
    assert "no run 'no-such-run'" in result.stderr


# --- signed votes ----------------------------------------------------------


def with_signed_payroll_sign_off(inventory: Inventory, petra_key: str) -> Inventory:
    """The sandbox inventory, with petra's public key and a signed-only gate."""
    env = inventory.environment("sandbox")
    approvals = env.approvals
    people: list[Approver] = [
        p.model_copy(update={"public_key": petra_key}) if p.id == "petra" else p
        for p in approvals.people
    ]
    rule = approvals.gates[GATE].model_copy(update={"signed": True})
    approvals = approvals.model_copy(
        update={"people": people, "gates": {**approvals.gates, GATE: rule}}
    )
    env = env.model_copy(update={"approvals": approvals})
    return inventory.model_copy(update={"environments": {"sandbox": env}})


@dataclass
class SignedSignOff:
    unsigned: subprocess.CompletedProcess[str]
    wrong_key: subprocess.CompletedProcess[str]
    signed: subprocess.CompletedProcess[str]
    report: DrillReport


@pytest.fixture(scope="module")
async def signed_sign_off(
    sandbox: Sandbox,
    seeded: str,
    client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[SignedSignOff]:
    keys = tmp_path_factory.mktemp("keys")
    petra_key = await generate_key(keys / "petra.key")
    await generate_key(keys / "someone-else.key")
    queue = f"odoo-dr-signed-{uuid.uuid4().hex[:8]}"
    inventory = with_signed_payroll_sign_off(sandbox.inventory, petra_key)
    async with build_worker(client, inventory, queue):
        handle = await start_drill(client, queue, validate_business=False)
        await wait_for_open_gate(handle)
        vote = ("approve", handle.id, GATE, "--as", "petra")
        unsigned = await odoo_dr(sandbox, *vote)
        wrong_key = await odoo_dr(
            sandbox, *vote, "--key", str(keys / "someone-else.key")
        )
        signed = await odoo_dr(sandbox, *vote, "--key", str(keys / "petra.key"))
        yield SignedSignOff(unsigned, wrong_key, signed, await handle.result())


async def test_a_signed_gate_asks_for_a_key_before_sending(
    signed_sign_off: SignedSignOff,
) -> None:
    result = signed_sign_off.unsigned
    assert result.returncode == 2
    assert "gate sign_off_payroll needs a signed vote: pass --key FILE" in result.stderr


async def test_a_vote_signed_with_another_key_is_refused(
    signed_sign_off: SignedSignOff,
) -> None:
    result = signed_sign_off.wrong_key
    assert result.returncode == 2
    assert "the signature is not petra's over this run" in result.stderr


async def test_a_vote_signed_with_the_approvers_key_counts_with_its_signer(
    signed_sign_off: SignedSignOff,
) -> None:
    assert signed_sign_off.signed.returncode == 0, signed_sign_off.signed.stderr
    assert "signed by petra" in signed_sign_off.signed.stdout
    assert signed_sign_off.report.verdict == "pass", signed_sign_off.report.failure
    (gate,) = signed_sign_off.report.approvals
    assert [v.verified_signer for v in gate.votes] == ["petra"]


# --- keys generate ---------------------------------------------------------


async def test_keys_generate_writes_the_private_key_for_the_owner_only(
    tmp_path: Path,
) -> None:
    await generate_key(tmp_path / "me.key")
    assert (tmp_path / "me.key").stat().st_mode & 0o777 == 0o600


async def test_keys_generate_prints_the_public_key_of_the_written_key(
    tmp_path: Path,
) -> None:
    public_key = await generate_key(tmp_path / "me.key")
    private_key = (tmp_path / "me.key").read_text().strip()
    assert public_key_of(private_key) == public_key
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    Approver(id="me", roles=["dba"], public_key=public_key)


async def test_keys_generate_refuses_to_overwrite_a_key(
    tmp_path: Path,
) -> None:
    await generate_key(tmp_path / "me.key")
    before = (tmp_path / "me.key").read_text()
    result = await cli("keys", "generate", "--out", str(tmp_path / "me.key"))
    assert result.returncode == 2
    assert "is never overwritten" in result.stderr
    assert (tmp_path / "me.key").read_text() == before


# The incident commander's path of the README: start, approve, read the report.


async def test_drill_run_with_a_sign_off_waits_for_the_approve_command(
    sandbox: Sandbox, seeded: str, client: Client, worker: Worker, task_queue: str
) -> None:
    env = dict(os.environ, ODOO_DR_TEMPORAL_ADDRESS=sandbox.address)
    drill = await asyncio.create_subprocess_exec(
        *CLI,
        "drill",
        "run",
        "--env",
        "sandbox",
        "--sign-off",
        "payroll",
        "--task-queue",
        task_queue,
        "--inventory",
        str(sandbox.layout.inventory),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert drill.stderr is not None
    started = (await asyncio.wait_for(drill.stderr.readline(), 60)).decode()
    hint = (await asyncio.wait_for(drill.stderr.readline(), 60)).decode()
    workflow_id = started.split()[1]
    assert workflow_id.startswith("restore-drill-sandbox-"), started
    assert f"odoo-dr approve {workflow_id} sign_off_payroll" in hint

    await wait_for_open_gate(client.get_workflow_handle(workflow_id))
    approved = await odoo_dr(sandbox, "approve", workflow_id, GATE, "--as", "petra")
    out, err = await asyncio.wait_for(drill.communicate(), 300)

    assert approved.returncode == 0, approved.stderr
    assert drill.returncode == 0, err.decode()
    printed = out.decode()
    assert ": PASS" in printed
    assert "gate  approved  sign_off_payroll" in printed
    assert "approve by petra (payroll_lead) via cli" in printed
