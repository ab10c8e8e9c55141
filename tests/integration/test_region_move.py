"""Switchover, failover and failback on a sandbox of their own, under load.

These tests stop, kill and promote PostgreSQL nodes, so they bring up a
second sandbox (its own Temporal dev server, pair, S3 and Redis) instead of
the session's. The load generator stands in for Odoo in both regions, each
writer obeying its region's control file; its ledgers prove what was lost.
Two people approve each move (maria, incident commander; tom, DBA), as the
sandbox's default rule wants; "ops-bot" starts them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import ActivityEnvironment

from activities.postgres import PostgresActivities
from odoo_dr.approvals import Ballot, GateState
from odoo_dr.cutover import RegionMoveInput, RegionMoveReport
from odoo_dr.inventory import (
    DatabasePointer,
    Environment,
    Integration,
    Inventory,
    KubernetesCluster,
    OdooDeployment,
    RecoveryTier,
    SecretRef,
    load_inventory,
)
from odoo_dr.signing import new_nonce
from sandbox.connections import odoo_conninfo
from sandbox.control import UpOptions, down, up
from sandbox.layout import Layout
from sandbox.load import LoadSummary, count_lost, read_ledger, run_load
from sandbox.postgres import postmaster_pid, superuser_conninfo
from sandbox.seed import seed_database
from starters.voting import send_vote
from tests.conftest import Sandbox, shared_tmp
from tests.doubles.kubernetes_api import KubernetesApiDouble
from worker.main import build_worker, connect
from workflows.region_move import (
    FailbackWorkflow,
    FailoverWorkflow,
    SwitchoverWorkflow,
    region_move_id,
)

ENV = "sandbox"
APPROVERS = ("maria", "tom")


@pytest.fixture(scope="module")
def pair_sandbox() -> Iterator[Sandbox]:
    home = shared_tmp("odoo-dr-region-move-") / "home"
    state = up(UpOptions(home=home), progress=lambda _msg: None)
    layout = Layout(home)
    try:
        seed_database(
            odoo_conninfo(layout, state.ports.pg_primary),
            scale=0.05,
            seed=11,
            filestore=layout.filestore,
            replace=True,
        )
        yield Sandbox(layout, state, load_inventory(layout.inventory))
    finally:
        down(home, purge=False)
        shutil.rmtree(home.parent, ignore_errors=True)


@pytest.fixture(scope="module")
async def pair_client(pair_sandbox: Sandbox) -> Client:
    return await connect(pair_sandbox.address)


@pytest.fixture(scope="module")
async def queue(pair_sandbox: Sandbox, pair_client: Client) -> AsyncIterator[str]:
    name = f"region-move-{uuid.uuid4().hex[:6]}"
    async with build_worker(pair_client, pair_sandbox.inventory, name):
        yield name


@dataclass
class Load:
    """The two regions' stand-ins for Odoo, writing while a test runs."""

    layout: Layout
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    summaries: list[LoadSummary] = field(default_factory=list)

    def ledger(self, region: str) -> Path:
        return self.layout.home / f"ledger-{region}.jsonl"

    def start(self, primary_port: int) -> None:
        for region in ("a", "b"):
            thread = threading.Thread(
                target=self._run, args=(region, primary_port), daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _run(self, region: str, port: int) -> None:
        self.summaries.append(
            run_load(
                odoo_conninfo(self.layout, port),
                rate=40,
                duration=None,
                ledger=self.ledger(region),
                stop=self.stop,
                control_file=self.layout.app_control(region),
            )
        )

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def committed(self) -> int:
        return sum(len(read_ledger(self.ledger(r))) for r in ("a", "b"))

    async def grows(self, server: str, timeout: float = 30) -> None:
        """Wait until a new commit on ``server`` (host:port) is in the ledgers."""
        before = self._on(server)
        for _ in range(int(timeout / 0.1)):
            if self._on(server) > before:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the app wrote nothing to {server} in {timeout} s")

    def _on(self, server: str) -> int:
        return sum(
            1
            for r in ("a", "b")
            for e in read_ledger(self.ledger(r))
            if e.server == server
        )


@pytest.fixture
def load(pair_sandbox: Sandbox) -> Iterator[Load]:
    running = Load(pair_sandbox.layout)
    for region in ("a", "b"):
        running.ledger(region).unlink(missing_ok=True)
    running.start(pair_sandbox.state.ports.pg_primary)
    yield running
    running.finish()


# Helpers.


def nodes(sandbox: Sandbox) -> dict[str, tuple[int, Path]]:
    """Node name -> (port, data directory)."""
    env = sandbox.env
    return {
        n.name: (n.port, n.data_dir)
        for region in env.regions.values()
        for n in region.postgres
        if n.data_dir is not None
    }


def server(sandbox: Sandbox, node: str) -> str:
    return f"127.0.0.1:{nodes(sandbox)[node][0]}"


def in_recovery(sandbox: Sandbox, node: str) -> bool:
    port = nodes(sandbox)[node][0]
    with psycopg.connect(superuser_conninfo(sandbox.layout, port)) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def superuser(sandbox: Sandbox, node: str, statement: str) -> None:
    port = nodes(sandbox)[node][0]
    with psycopg.connect(
        superuser_conninfo(sandbox.layout, port), autocommit=True
    ) as c:
        c.execute(statement)


async def start(
    client: Client, queue: str, workflow: Any, **options: Any
) -> WorkflowHandle[Any, RegionMoveReport]:
    fields: dict[str, Any] = {
        "environment": ENV,
        "reason": "test",
        "requested_by": "ops-bot",
        **options,
    }
    return await client.start_workflow(
        workflow.run,
        RegionMoveInput(**fields),
        id=region_move_id(ENV),
        task_queue=queue,
    )


async def approve(handle: WorkflowHandle[Any, Any], gate: str) -> None:
    """Both approvers vote once the gate is open."""
    for _ in range(600):
        gates = await handle.query("gates", result_type=list[GateState])
        found = next((g for g in gates if g.name == gate and g.outcome == "open"), None)
        if found is not None:
            for person in APPROVERS:
                ballot = Ballot(
                    gate=gate,
                    request_id=found.request_id,
                    person=person,
                    channel="cli",
                    nonce=new_nonce(),
                )
                await send_vote(handle, "approve", ballot, ballot.nonce)
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gate {gate} never opened")


async def run_approved(
    client: Client, queue: str, workflow: Any, gate: str, **options: Any
) -> RegionMoveReport:
    handle = await start(client, queue, workflow, **options)
    await approve(handle, gate)
    return await handle.result()


def routed_to(sandbox: Sandbox) -> str:
    """The service Traefik's router sends Odoo's users to, from its file."""
    traffic = sandbox.env.traffic
    assert traffic.config_dir is not None
    config = yaml.safe_load((traffic.config_dir / traffic.file).read_text())
    return str(config["http"]["routers"][traffic.router]["service"])


def lost_on(sandbox: Sandbox, load: Load, node: str) -> int:
    port = nodes(sandbox)[node][0]
    conninfo = odoo_conninfo(sandbox.layout, port)
    return sum(count_lost(load.ledger(r), conninfo).lost_count for r in ("a", "b"))


# Planned switchover, back and forth.


async def test_ten_switchovers_under_load_lose_no_committed_transaction(
    pair_sandbox: Sandbox, pair_client: Client, queue: str, load: Load
):
    await load.grows(server(pair_sandbox, "pg-a"))
    windows = []
    for number in range(10):
        report = await run_approved(
            pair_client, queue, SwitchoverWorkflow, "switchover"
        )
        assert report.verdict == "pass", report.failure
        promoted = report.promotion.node if report.promotion else ""
        assert promoted == ("pg-b", "pg-a")[number % 2]
        assert report.reprotection is not None
        assert report.reprotection.node == ("pg-a", "pg-b")[number % 2]
        assert report.reprotection is not None and report.reprotection.streaming
        await load.grows(server(pair_sandbox, promoted))
        assert routed_to(pair_sandbox) == f"odoo-{promoted[-1]}"
        assert report.redis is not None and report.redis.action == "flushed"
        windows.append(report.unavailable_seconds)
        assert lost_on(pair_sandbox, load, promoted) == 0, f"switchover {number + 1}"

    load.finish()
    final = "pg-a"  # ten moves: back where it began
    assert not in_recovery(pair_sandbox, final)
    assert in_recovery(pair_sandbox, "pg-b")
    assert lost_on(pair_sandbox, load, final) == 0
    assert load.committed() > 100
    servers = {e.server for r in ("a", "b") for e in read_ledger(load.ledger(r))}
    assert servers == {server(pair_sandbox, "pg-a"), server(pair_sandbox, "pg-b")}
    assert all(w is not None and w < 30 for w in windows), windows
    print("switchover windows (quiesce to resumed), s:", windows)


# Integrations: probed, or confirmed by their owners like gates.


async def test_integrations_are_probed_and_owners_confirm_the_rest(
    pair_sandbox: Sandbox, pair_client: Client, queue: str
):
    import http.server
    import socket

    class Healthy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    integrations = [
        {
            "name": "webhooks",
            "kind": "http",
            "url": f"http://127.0.0.1:{web.server_port}/",
        },
        {
            "name": "sftp_bank",
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": dead_port,
            "owner": "jonas",
            "timeout": "2s",
        },
        {
            "name": "payment_portal",
            "kind": "task",
            "owner": "petra",
            "description": "re-register the callback URL",
        },
    ]
    env = pair_sandbox.env.model_copy(
        update={"integrations": [Integration(**i) for i in integrations]}
    )
    own_queue = f"integrations-{uuid.uuid4().hex[:6]}"
    try:
        async with build_worker(
            pair_client, Inventory(environments={ENV: env}), own_queue
        ):
            handle = await start(pair_client, own_queue, SwitchoverWorkflow)
            await approve(handle, "switchover")
            sftp = await _open_gate(handle, "reconnect_sftp_bank")
            portal = await _open_gate(handle, "reconnect_payment_portal")
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await _vote(handle, _ballot(sftp, "petra"))
            await _vote(handle, _ballot(sftp, "jonas"))
            await _vote(handle, _ballot(portal, "petra"))
            report: RegionMoveReport = await handle.result()
    finally:
        web.shutdown()
        # Back to pg-a for the tests that follow, without integrations.
        back = await run_approved(pair_client, queue, SwitchoverWorkflow, "switchover")
    assert "only jonas may decide gate 'reconnect_sftp_bank'" in str(
        refused.value.cause
    )
    assert report.verdict == "pass", report.failure
    found = {c.name: (c.ok, c.confirmed) for c in report.integrations}
    assert found == {
        "webhooks": (True, None),
        "sftp_bank": (False, "approved"),
        "payment_portal": (None, "approved"),
    }
    assert back.verdict == "pass" and back.promotion is not None
    assert back.promotion.node == "pg-a"


async def _open_gate(handle: WorkflowHandle[Any, Any], gate: str) -> GateState:
    for _ in range(600):
        gates = await handle.query("gates", result_type=list[GateState])
        found = next((g for g in gates if g.name == gate and g.outcome == "open"), None)
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"gate {gate} never opened")


async def _vote(handle: WorkflowHandle[Any, Any], ballot: Ballot) -> GateState:
    return await send_vote(handle, "approve", ballot, ballot.nonce)


def _ballot(gate: GateState, person: str) -> Ballot:
    return Ballot(
        gate=gate.name, request_id=gate.request_id, person=person, nonce=new_nonce()
    )


# Odoo on Kubernetes: the same runbook drives Deployments through the API.


async def test_switchover_drives_odoo_deployments_on_kubernetes(
    pair_sandbox: Sandbox, pair_client: Client, queue: str, tmp_path: Path
):
    port = {name: p for name, (p, _) in nodes(pair_sandbox).items()}
    with KubernetesApiDouble(
        token="k8s-token-of-region-moves", step_seconds=0.05
    ) as api:
        for region, replicas in (("a", 2), ("b", 0)):
            api.add_deployment(f"odoo-{region}", "odoo-web", replicas=replicas)
            api.add_config_map(
                f"odoo-{region}", "odoo-db", {"HOST": "127.0.0.1", "PORT": "5432"}
            )
        async with _worker_on(api, pair_sandbox, pair_client, tmp_path) as own_queue:
            there = await run_approved(
                pair_client, own_queue, SwitchoverWorkflow, "switchover"
            )
            on_b = _kubernetes_state(api)
            back = await run_approved(
                pair_client, own_queue, SwitchoverWorkflow, "switchover"
            )
            on_a = _kubernetes_state(api)

    assert there.verdict == "pass", there.failure
    assert on_b == {"a": (0, None), "b": (2, str(port["pg-b"]))}
    actions = {
        (s.region, s.action) for s in there.app_tier if s.deployment == "odoo-web"
    }
    assert actions == {("a", "quiesced"), ("b", "pointed"), ("b", "resumed")}
    assert back.verdict == "pass", back.failure
    # Region A comes back at the size it had when it was stopped.
    assert on_a == {"a": (2, str(port["pg-a"])), "b": (0, None)}


async def test_switchover_is_refused_when_region_b_has_no_deployment(
    pair_sandbox: Sandbox, pair_client: Client, tmp_path: Path
):
    with KubernetesApiDouble(token="k8s-token-of-region-moves") as api:
        api.add_deployment("odoo-a", "odoo-web", replicas=2)
        api.add_config_map("odoo-a", "odoo-db", {"HOST": "127.0.0.1", "PORT": "1"})
        async with _worker_on(api, pair_sandbox, pair_client, tmp_path) as own_queue:
            handle = await start(pair_client, own_queue, SwitchoverWorkflow)
            report = await handle.result()
        patches = [r for r in api.requests if r.method == "PATCH"]

    assert report.verdict == "fail"
    assert "switchover refused: app tier: Deployment odoo-web in namespace " in (
        report.failure or ""
    )
    assert "odoo-b does not exist" in (report.failure or "")
    assert patches == [] and report.fencing is None
    assert not in_recovery(pair_sandbox, "pg-a") and in_recovery(pair_sandbox, "pg-b")


@asynccontextmanager
async def _worker_on(
    api: KubernetesApiDouble, sandbox: Sandbox, client: Client, tmp_path: Path
) -> AsyncIterator[str]:
    """A worker whose inventory drives Odoo on ``api`` too; its task queue."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(api.kubeconfig())
    env = _on_kubernetes(sandbox.env, kubeconfig)
    own_queue = f"kubernetes-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, Inventory(environments={ENV: env}), own_queue):
        yield own_queue


def _on_kubernetes(env: Environment, kubeconfig: Path) -> Environment:
    """``env`` with an Odoo web Deployment per region besides the stand-ins."""
    web = [
        OdooDeployment(
            region=region,
            kind="kubernetes",
            name="odoo-web",
            namespace=f"odoo-{region}",
            replicas=2,
            database=DatabasePointer(kind="configmap", name="odoo-db"),
        )
        for region in ("a", "b")
    ]
    cluster = KubernetesCluster(kubeconfig=SecretRef(file=kubeconfig))
    odoo = env.odoo.model_copy(update={"deployments": [*env.odoo.deployments, *web]})
    return env.model_copy(
        update={"odoo": odoo, "kubernetes": {"a": cluster, "b": cluster}}
    )


def _kubernetes_state(api: KubernetesApiDouble) -> dict[str, tuple[int, str | None]]:
    """Per region: ready pods of odoo-web, and the port its ConfigMap names
    (None while the Deployment is stopped: the address does not matter)."""
    state: dict[str, tuple[int, str | None]] = {}
    for region in ("a", "b"):
        deployment = api.deployment(f"odoo-{region}", "odoo-web")
        ready = int(deployment["status"].get("readyReplicas") or 0)
        data = api.config_map(f"odoo-{region}", "odoo-db")["data"]
        state[region] = (ready, data["PORT"] if ready else None)
    return state


# Refused paths: nothing changes.


async def test_a_second_region_move_is_refused_while_one_runs(
    pair_client: Client, queue: str
):
    first = await start(pair_client, queue, SwitchoverWorkflow)
    try:
        with pytest.raises(Exception) as refused:
            await start(pair_client, queue, FailoverWorkflow)
        assert "already started" in str(refused.value).lower()
    finally:
        await first.cancel()
        report = await first.result()
    assert report.verdict == "aborted"


async def test_a_region_move_under_another_id_is_refused(
    pair_client: Client, queue: str
):
    report = await pair_client.execute_workflow(
        SwitchoverWorkflow.run,
        RegionMoveInput(environment=ENV, reason="test", requested_by="ops-bot"),
        id=f"my-own-switchover-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )
    assert report.verdict == "fail"
    assert "must run as workflow id 'region-move-sandbox'" in (report.failure or "")


async def test_unknown_environment_is_refused(pair_client: Client, queue: str):
    report = await pair_client.execute_workflow(
        SwitchoverWorkflow.run,
        RegionMoveInput(environment="nowhere", reason="test"),
        id=region_move_id("nowhere"),
        task_queue=queue,
    )
    assert report.verdict == "fail"
    assert "nowhere" in (report.failure or "")
    assert report.fencing is None and report.promotion is None


async def test_switchover_with_the_primary_down_is_refused(
    pair_sandbox: Sandbox, pair_client: Client, queue: str
):
    port, data_dir = nodes(pair_sandbox)["pg-a"]
    _pg_ctl(pair_sandbox, "stop", data_dir)
    try:
        report = await (await start(pair_client, queue, SwitchoverWorkflow)).result()
    finally:
        _pg_ctl(pair_sandbox, "start", data_dir)
    assert report.verdict == "fail"
    assert "switchover refused" in (report.failure or "")
    assert "no writable primary answers" in (report.failure or "")
    assert report.fencing is None
    assert in_recovery(pair_sandbox, "pg-b")


async def test_failover_over_the_rpo_budget_needs_an_override(
    pair_sandbox: Sandbox, pair_client: Client, load: Load
):
    # A one-second budget, and a standby that stopped replaying.
    strict = _with_tiers(pair_sandbox.env, rpo=timedelta(seconds=1))
    inventory = Inventory(environments={ENV: strict})
    queue = f"strict-{uuid.uuid4().hex[:6]}"
    superuser(pair_sandbox, "pg-b", "SELECT pg_wal_replay_pause()")
    try:
        await load.grows(server(pair_sandbox, "pg-a"))
        await asyncio.sleep(1.5)
        await load.grows(server(pair_sandbox, "pg-a"))
        async with build_worker(pair_client, inventory, queue):
            report = await (await start(pair_client, queue, FailoverWorkflow)).result()
    finally:
        superuser(pair_sandbox, "pg-b", "SELECT pg_wal_replay_resume()")
    assert report.verdict == "fail"
    assert "replay lag over the RPO budget" in (report.failure or "")
    assert "lag_override" in (report.failure or "")
    assert report.fencing is None and report.promotion is None
    assert not in_recovery(pair_sandbox, "pg-a") and in_recovery(pair_sandbox, "pg-b")
    await load.grows(server(pair_sandbox, "pg-a"))


async def cli(sandbox: Sandbox, queue: str, *args: str) -> Any:
    import subprocess
    import sys

    command = [str(Path(sys.executable).parent / "odoo-dr"), *args]
    command += ["--inventory", str(sandbox.layout.inventory), "--task-queue", queue]
    env = dict(os.environ, ODOO_DR_TEMPORAL_ADDRESS=sandbox.address)
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=300
    )


async def test_dry_run_prints_pre_flight_and_plan_and_changes_nothing(
    pair_sandbox: Sandbox, queue: str
):
    start_args = ("switchover", "start", "--env", ENV, "--reason", "rehearsal")
    result = await cli(pair_sandbox, queue, *start_args, "--dry-run")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "switchover of sandbox: DRY_RUN" in out
    assert "move       pg-a (region a) -> pg-b (region b)" in out
    assert "paths      switchover open, failover open" in out
    assert "check ok  streaming: pg-b streams from 127.0.0.1:" in out
    assert "5. promote the standby (point of no return)" in out
    assert not in_recovery(pair_sandbox, "pg-a") and in_recovery(pair_sandbox, "pg-b")


async def test_cli_refuses_a_second_region_move_naming_the_running_one(
    pair_sandbox: Sandbox, pair_client: Client, queue: str
):
    first = await start(pair_client, queue, SwitchoverWorkflow)
    try:
        result = await cli(
            pair_sandbox, queue, "failover", "start", "--env", ENV, "--reason", "x"
        )
    finally:
        await first.cancel()
        await first.result()
    assert result.returncode == 2
    assert (
        f"already running: Switchover region-move-sandbox run {first.result_run_id}"
        in result.stderr
    )


# Compensation before the point of no return.


async def test_abort_before_promotion_leaves_region_a_serving(
    pair_sandbox: Sandbox, pair_client: Client, queue: str, load: Load
):
    await load.grows(server(pair_sandbox, "pg-a"))
    # The standby stops replaying: the switchover waits after the fence.
    superuser(pair_sandbox, "pg-b", "SELECT pg_wal_replay_pause()")
    try:
        handle = await start(pair_client, queue, SwitchoverWorkflow)
        await approve(handle, "switchover")
        await _until_step(handle, "wait until pg-b has replayed")
        await handle.cancel()
        report = await handle.result()
    finally:
        superuser(pair_sandbox, "pg-b", "SELECT pg_wal_replay_resume()")

    assert report.verdict == "aborted"
    assert report.promotion is None
    undone = " | ".join(report.compensated)
    assert "lift the fence of pg-a" in undone
    assert "resume Odoo of region a" in undone
    assert report.traffic == []  # users were never sent away from region A
    assert not in_recovery(pair_sandbox, "pg-a")
    await load.grows(server(pair_sandbox, "pg-a"))


# Unplanned failover, the old primary coming back, and failback.


async def test_failover_after_the_primary_dies_then_failback_rewinds_it(
    pair_sandbox: Sandbox, pair_client: Client, queue: str, load: Load
):
    await load.grows(server(pair_sandbox, "pg-a"))
    port_a, data_a = nodes(pair_sandbox)["pg-a"]
    pid = postmaster_pid(data_a)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    report = await run_approved(pair_client, queue, FailoverWorkflow, "failover")
    assert report.verdict == "pass", report.failure
    assert report.promotion is not None and report.promotion.node == "pg-b"
    # Down already, or dying as it was fenced: either way it left no clean end.
    assert report.fencing is not None and report.fencing.confirmed
    assert report.fencing.method in ("already_down", "stopped")
    assert report.fencing.final_lsn is None
    assert report.validation is not None and not report.validation.blocking
    await load.grows(server(pair_sandbox, "pg-b"))
    # Users went to region B before the promotion, as part of the fence.
    assert routed_to(pair_sandbox) == "odoo-b"
    assert [t.action for t in report.traffic] == ["routed"]
    # pg-a's own WAL holds at least every commit the ledgers say was lost
    # (more when autovacuum or a COMMIT whose answer the kill cut off also
    # committed after the fork).
    assert report.loss is not None and report.loss.measured
    on_b = odoo_conninfo(pair_sandbox.layout, nodes(pair_sandbox)["pg-b"][0])
    lost = sum(count_lost(load.ledger(r), on_b).lost_count for r in ("a", "b"))
    assert (report.loss.lost_transactions or 0) >= lost
    assert (report.loss.lost_bytes or 0) > 0 or lost == 0
    assert report.lost_bytes_known and report.lost_bytes == report.loss.lost_bytes
    # Drills and validation now read production from pg-b, not the inventory's.
    position = await ActivityEnvironment().run(
        PostgresActivities(pair_sandbox.inventory).capture_primary_position, ENV
    )
    assert position.node == "pg-b"

    # The old primary comes back: read-only, the app path cannot write to it.
    await asyncio.to_thread(_wait_gone, data_a)
    _pg_ctl(pair_sandbox, "start", data_a)
    assert in_recovery(pair_sandbox, "pg-a")
    with psycopg.connect(odoo_conninfo(pair_sandbox.layout, port_a)) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("UPDATE res_company SET name = name")

    # Failback: rewind pg-a into a standby of pg-b, then switch back to it.
    back = await run_approved(pair_client, queue, FailbackWorkflow, "failback")
    assert back.verdict == "pass", back.failure
    assert back.reprotection is not None
    assert back.promotion is not None and back.promotion.node == "pg-a"
    await load.grows(server(pair_sandbox, "pg-a"))
    assert not in_recovery(pair_sandbox, "pg-a") and in_recovery(pair_sandbox, "pg-b")
    assert routed_to(pair_sandbox) == "odoo-a"
    # Nothing committed on pg-b during the failover was lost by the way back.
    load.finish()
    on_b = [
        e
        for r in ("a", "b")
        for e in read_ledger(load.ledger(r))
        if e.server == server(pair_sandbox, "pg-b")
    ]
    assert on_b
    conninfo = odoo_conninfo(pair_sandbox.layout, port_a)
    missing = {
        e.seq
        for r in ("a", "b")
        for e in count_lost(load.ledger(r), conninfo).lost
        if e.server == server(pair_sandbox, "pg-b")
    }
    assert missing == set()


def _with_tiers(env: Environment, rpo: timedelta) -> Environment:
    tier = RecoveryTier(name="strict", rto=timedelta(hours=1), rpo=rpo)
    return env.model_copy(update={"tiers": [tier]})


def _pg_ctl(sandbox: Sandbox, verb: str, data_dir: Path) -> None:
    import subprocess

    bindir = sandbox.env.drill.bindir
    command = [str(bindir / "pg_ctl") if bindir else "pg_ctl", verb, "-w", "-D"]
    command.append(str(data_dir))
    if verb == "start":
        command += ["-l", str(data_dir.parent / f"{data_dir.name}.log")]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _wait_gone(data_dir: Path) -> None:
    """Wait until the killed postmaster's children have exited."""
    import time

    for _ in range(300):
        pid = postmaster_pid(data_dir)
        if pid is None:
            return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


async def _until_step(handle: WorkflowHandle[Any, Any], prefix: str) -> None:
    for _ in range(600):
        status = await handle.query("status")
        if (status.get("step") or "").startswith(prefix):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the run never reached step {prefix!r}")
