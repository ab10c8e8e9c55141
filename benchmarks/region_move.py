"""Switchover write-unavailability and failover time, orchestrated vs plain.

On a sandbox of its own, with the load generator writing in both regions
(each writer obeys its region's control file, as Odoo obeys its
Deployment), it measures:

- the switchover's write-unavailability window: the last commit on the old
  primary to the first commit on the new one, read from the load's ledgers
  (approval time excluded: the votes are cast before the clock starts);
- the failover's time from approval to validated service, after the primary
  was killed.

Each is measured through Temporal (the runbook on an in-process worker)
and as a plain script that runs the same activities one after the other
in-process (ActivityEnvironment, no Temporal): the ratio is the cost of
orchestration. Failbacks between failovers put the pair back; they are not
timed.

Run: .venv/bin/python benchmarks/region_move.py [--runs 4] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client  # noqa: E402
from temporalio.testing import ActivityEnvironment  # noqa: E402

from activities.app_tier import AppTierActivities  # noqa: E402
from activities.odoo import OdooActivities  # noqa: E402
from activities.postgres_pair import PairActivities  # noqa: E402
from activities.preflight import PreflightActivities
from activities.redis import RedisActivities
from activities.traffic import TrafficActivities  # noqa: E402
from odoo_dr.approvals import Ballot, GateState  # noqa: E402
from odoo_dr.cutover import RegionMoveInput, RegionMoveReport  # noqa: E402
from odoo_dr.inventory import Inventory, load_inventory  # noqa: E402
from odoo_dr.signing import new_nonce  # noqa: E402
from odoo_dr.validation import ValidationInput, ValidationTarget  # noqa: E402
from sandbox.connections import odoo_conninfo  # noqa: E402
from sandbox.control import UpOptions, down, up  # noqa: E402
from sandbox.layout import Layout  # noqa: E402
from sandbox.load import read_ledger, run_load  # noqa: E402
from sandbox.postgres import postmaster_pid  # noqa: E402
from sandbox.seed import seed_database  # noqa: E402
from sandbox.temporal import temporal_address  # noqa: E402
from worker.main import build_worker, connect  # noqa: E402
from workflows.region_move import (  # noqa: E402
    FailbackWorkflow,
    FailoverWorkflow,
    SwitchoverWorkflow,
    region_move_id,
)

ENV = "sandbox"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Writers:
    """The two regions' load generators and their ledgers."""

    def __init__(self, layout: Layout, port: int, rate: float) -> None:
        self.layout, self.stop = layout, threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(r, port, rate), daemon=True)
            for r in ("a", "b")
        ]
        for thread in self.threads:
            thread.start()

    def ledger(self, region: str) -> Path:
        return self.layout.home / f"bench-ledger-{region}.jsonl"

    def _run(self, region: str, port: int, rate: float) -> None:
        run_load(
            odoo_conninfo(self.layout, port),
            rate=rate,
            duration=None,
            ledger=self.ledger(region),
            stop=self.stop,
            control_file=self.layout.app_control(region),
        )

    def commits(self) -> list[tuple[datetime, str]]:
        entries = [e for r in ("a", "b") for e in read_ledger(self.ledger(r))]
        return sorted((e.commit_time, e.server or "") for e in entries)

    def window(self, old: str, new: str, since: datetime) -> float:
        """Last commit on ``old`` to the first on ``new``, after ``since``."""
        commits = [c for c in self.commits() if c[0] >= since]
        first_new = next(t for t, s in commits if s == new)
        last_old = max(t for t, s in commits if s == old and t <= first_new)
        return (first_new - last_old).total_seconds()

    async def wrote_on(self, server: str, after: datetime) -> None:
        for _ in range(600):
            if any(s == server and t > after for t, s in self.commits()):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"no commit on {server}")


def node_of(inventory: Inventory, name: str) -> tuple[str, Path]:
    env = inventory.environment(ENV)
    node = next(n for n in env.all_nodes() if n.name == name)
    assert node.data_dir is not None
    return f"{node.host}:{node.port}", node.data_dir


# Through Temporal.


async def approved(client: Client, queue: str, workflow: Any, gate: str) -> Any:
    handle = await client.start_workflow(
        workflow.run,
        RegionMoveInput(environment=ENV, reason="benchmark", requested_by="bench"),
        id=region_move_id(ENV),
        task_queue=queue,
    )
    for _ in range(600):
        gates = await handle.query("gates", result_type=list[GateState])
        found = next((g for g in gates if g.name == gate and g.outcome == "open"), None)
        if found:
            break
        await asyncio.sleep(0.05)
    else:
        raise RuntimeError(f"gate {gate} never opened")
    for person in ("maria", "tom"):
        ballot = Ballot(
            gate=gate, request_id=found.request_id, person=person, nonce=new_nonce()
        )
        await handle.execute_update("approve", ballot, result_type=GateState)
    return handle


async def temporal_switchover(client: Client, queue: str) -> RegionMoveReport:
    handle = await approved(client, queue, SwitchoverWorkflow, "switchover")
    report: RegionMoveReport = await handle.result()
    if report.verdict != "pass":
        raise RuntimeError(f"switchover failed: {report.failure}")
    return report


async def temporal_failover(client: Client, queue: str) -> float:
    """Approval to validated service, from the run's own step records.

    The run goes on after validation (integrations, evidence); that is not
    part of restoring the service, and the plain script does not do it.
    """
    handle = await approved(client, queue, FailoverWorkflow, "failover")
    report: RegionMoveReport = await handle.result()
    if report.verdict != "pass":
        raise RuntimeError(f"failover failed: {report.failure}")
    approval = next(s for s in report.steps if s.name == "approval: failover")
    validated = next(
        s for s in report.steps if s.name.startswith("validate business data")
    )
    assert approval.ended_at is not None and validated.ended_at is not None
    return (validated.ended_at - approval.ended_at).total_seconds()


# The same activities as a plain script.


class Plain:
    """The runbooks' activities in order, without Temporal."""

    def __init__(self, inventory: Inventory) -> None:
        self.env = ActivityEnvironment()
        self.preflight = PreflightActivities(inventory)
        self.pair = PairActivities(inventory)
        self.app = AppTierActivities(inventory)
        self.odoo = OdooActivities(inventory)
        self.redis = RedisActivities(inventory)
        self.traffic = TrafficActivities(inventory)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await self.env.run(fn, *args)

    async def switchover(self) -> None:
        flight = await self.run(self.preflight.preflight, ENV, None)
        await self.run(self.app.quiesce_app_tier, ENV, flight.source_region)
        fencing = await self.run(self.pair.fence_primary, ENV, flight.source, True)
        await self.run(self.pair.wait_replayed, ENV, flight.target, fencing.final_lsn)
        await self.serve(flight)
        await self.run(self.traffic.route_traffic, ENV, flight.target_region)
        await self.run(self.pair.reprotect_node, ENV, flight.source, flight.target)

    async def failover(self) -> float:
        flight = await self.run(self.preflight.preflight, ENV, None)
        began = time.monotonic()
        await self.run(self.app.quiesce_app_tier, ENV, flight.source_region)
        await self.run(self.traffic.route_traffic, ENV, flight.target_region)
        await self.run(self.pair.fence_primary, ENV, flight.source, False)
        await self.serve(flight, count_loss=True)
        return time.monotonic() - began

    async def serve(self, flight: Any, count_loss: bool = False) -> None:
        target = flight.pair.node(flight.target)
        promotion = await self.run(self.pair.promote_standby, ENV, flight.target)
        region = flight.target_region
        await self.run(self.redis.move_redis, ENV, region)
        await self.run(self.app.serve_app_tier, ENV, region, target.host, target.port)
        if count_loss:
            lsn = promotion.replayed_lsn
            await self.run(self.pair.measure_loss, ENV, flight.source, lsn)
        request = ValidationInput(
            environment=ENV,
            target=ValidationTarget(node=flight.target, region=region),
        )
        await self.run(self.odoo.run_validation_checks, request)
        await self.run(self.odoo.probe_odoo, request)


# The measurement.


async def measure(runs: int, rate: float) -> dict[str, list[float]]:
    home = Path(tempfile.mkdtemp(prefix="odoo-dr-bench-move-")) / "home"
    home.parent.chmod(0o755)
    state = up(UpOptions(home=home), progress=lambda _m: None)
    layout = Layout(home)
    figures: dict[str, list[float]] = {
        k: [] for k in ("window_t", "window_p", "failover_t", "failover_p")
    }
    try:
        primary = odoo_conninfo(layout, state.ports.pg_primary)
        seed_database(primary, scale=0.05, seed=5, filestore=layout.filestore)
        inventory = load_inventory(layout.inventory)
        client = await connect(temporal_address(state.ports))
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        writers = Writers(layout, state.ports.pg_primary, rate)
        plain = Plain(inventory)
        async with build_worker(client, inventory, queue):
            await writers.wrote_on(node_of(inventory, "pg-a")[0], EPOCH)
            for run in range(runs):
                await switchovers(client, queue, plain, writers, inventory, figures)
                await failovers(client, queue, plain, writers, inventory, figures)
                print(f"run {run + 1}/{runs} done", file=sys.stderr)
        writers.stop.set()
    finally:
        down(home, purge=True)
    return figures


async def switchovers(
    client: Client,
    queue: str,
    plain: Plain,
    writers: Writers,
    inventory: Inventory,
    figures: dict[str, list[float]],
) -> None:
    """A -> B through Temporal, B -> A as a plain script: one window each."""
    a, b = node_of(inventory, "pg-a")[0], node_of(inventory, "pg-b")[0]
    since = _now(writers)
    await temporal_switchover(client, queue)
    await writers.wrote_on(b, since)
    figures["window_t"].append(writers.window(a, b, since))
    since = _now(writers)
    await plain.switchover()
    await writers.wrote_on(a, since)
    figures["window_p"].append(writers.window(b, a, since))


async def failovers(
    client: Client,
    queue: str,
    plain: Plain,
    writers: Writers,
    inventory: Inventory,
    figures: dict[str, list[float]],
) -> None:
    """Kill A; fail over (Temporal, then plain); fail back after each."""
    for key in ("failover_t", "failover_p"):
        _kill(node_of(inventory, "pg-a")[1])
        if key == "failover_t":
            figures[key].append(await temporal_failover(client, queue))
        else:
            figures[key].append(await plain.failover())
        handle = await approved(client, queue, FailbackWorkflow, "failback")
        report: RegionMoveReport = await handle.result()
        if report.verdict != "pass":
            raise RuntimeError(f"failback failed: {report.failure}")


def _kill(data_dir: Path) -> None:
    pid = postmaster_pid(data_dir)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    for _ in range(300):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # its backends notice the postmaster's death


def _now(writers: Writers) -> datetime:
    commits = writers.commits()
    return commits[-1][0] if commits else EPOCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.runs, args.rate))
    median = {k: statistics.median(v) for k, v in figures.items()}
    print(f"region moves on the sandbox, {args.runs} runs, load {args.rate:.0f} tx/s")
    print(
        f"switchover write-unavailability: Temporal {median['window_t']:.2f} s, "
        f"plain script {median['window_p']:.2f} s, ratio "
        f"{median['window_t'] / median['window_p']:.2f}x (aim: under 3 s, under 1.2x)"
    )
    print(
        f"failover approval to validated service: Temporal "
        f"{median['failover_t']:.2f} s, plain script {median['failover_p']:.2f} s, "
        f"ratio {median['failover_t'] / median['failover_p']:.2f}x (aim: under 1.2x)"
    )
    for key, values in figures.items():
        print(f"  {key}: " + ", ".join(f"{v:.2f}" for v in values))


if __name__ == "__main__":
    main()
