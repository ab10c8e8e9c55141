"""How long `sandbox up` and the scale-1 restore drill take, against baselines.

Baselines are measured in the same run on the same machine:

- `sandbox up` (cold, into a new folder) against a bare PostgreSQL cluster's
  initdb + start: the part of `up` no orchestration can avoid;
- the drill through Temporal (with business validation in a child workflow)
  against the same activities run one after the other in-process without a
  Temporal server (ActivityEnvironment): the ratio is the cost of durability.

Run: .venv/bin/python benchmarks/sandbox_and_drill.py [--scale 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.testing import ActivityEnvironment  # noqa: E402

from activities.backups import BackupActivities  # noqa: E402
from activities.odoo import OdooActivities  # noqa: E402
from activities.postgres import PostgresActivities  # noqa: E402
from odoo_dr.inventory import load_inventory  # noqa: E402
from odoo_dr.models import DrillInput  # noqa: E402
from odoo_dr.validation import ValidationInput, ValidationTarget  # noqa: E402
from sandbox.connections import odoo_conninfo  # noqa: E402
from sandbox.control import UpOptions, archive_and_back_up, down, up  # noqa: E402
from sandbox.layout import Layout  # noqa: E402
from sandbox.postgres import find_pg_bindir  # noqa: E402
from sandbox.processes import as_user, pick_free_ports, service_user  # noqa: E402
from sandbox.seed import seed_database  # noqa: E402
from sandbox.temporal import temporal_address  # noqa: E402
from worker.main import build_worker, connect  # noqa: E402
from workflows.drill import ODOO_TABLES, RestoreDrillWorkflow  # noqa: E402


def shared_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def bare_cluster_seconds() -> float:
    """initdb + pg_ctl start -w of an empty cluster, then stop it."""
    import subprocess

    bindir = find_pg_bindir()
    user = service_user()
    folder = shared_dir("odoo-dr-bench-pg-")
    if user:
        shutil.chown(folder, user)
    data = folder / "data"
    port = pick_free_ports(1)[0]
    began = time.monotonic()
    subprocess.run(
        as_user([bindir / "initdb", "-D", data, "-U", "postgres"], user),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        as_user(
            [
                bindir / "pg_ctl",
                "start",
                "-w",
                "-D",
                data,
                "-l",
                folder / "log",
                "-o",
                f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
            ],
            user,
        ),
        check=True,
        capture_output=True,
    )
    took = time.monotonic() - began
    subprocess.run(
        as_user([bindir / "pg_ctl", "stop", "-m", "immediate", "-D", data], user),
        check=True,
        capture_output=True,
    )
    shutil.rmtree(folder, ignore_errors=True)
    return took


async def drill_through_temporal(layout: Layout, address: str) -> tuple[float, object]:
    inventory = load_inventory(layout.inventory)
    client = await connect(address)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, inventory, queue):
        began = time.monotonic()
        report = await client.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", requested_by="benchmark"),
            id=f"bench-drill-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        took = time.monotonic() - began
    assert report.verdict == "pass", report.failure
    return took, report


async def drill_without_temporal(layout: Layout) -> float:
    inventory = load_inventory(layout.inventory)
    backups = BackupActivities(inventory)
    pg = PostgresActivities(inventory)
    odoo = OdooActivities(inventory)
    run = ActivityEnvironment().run
    drill_id = f"bench-{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    await run(pg.capture_primary_position, "sandbox")
    production = ValidationTarget(label="production primary")
    taken = await run(odoo.capture_fingerprint, "sandbox", production)
    backup = await run(backups.select_backup, "sandbox", None)
    copy = await run(backups.restore_backup, "sandbox", drill_id, backup.backup_id)
    point = await run(pg.start_restored_copy, "sandbox", copy)
    counts = await run(pg.count_tables, "sandbox", copy, ODOO_TABLES)
    target = ValidationTarget(host=copy.host, port=copy.port, label=drill_id)
    request = ValidationInput(environment="sandbox", target=target, probes=False)
    await run(odoo.run_validation_checks, request)
    await run(
        odoo.compare_fingerprint,
        "sandbox",
        taken,
        target,
        production,
        point.newest_commit,
    )
    await run(odoo.capture_fingerprint, "sandbox", target)
    await run(pg.teardown_copy, "sandbox", drill_id)
    took = time.monotonic() - began
    assert all(c.ok for c in counts)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    bare = statistics.median(bare_cluster_seconds() for _ in range(args.runs))
    home = shared_dir("odoo-dr-bench-") / "home"
    began = time.monotonic()
    state = up(UpOptions(home=home), progress=lambda _m: None)
    up_seconds = time.monotonic() - began
    layout = Layout(home)
    try:
        seeded = time.monotonic()
        seed_database(
            odoo_conninfo(layout, state.ports.pg_primary),
            scale=args.scale,
            filestore=layout.filestore,
        )
        seed_seconds = time.monotonic() - seeded
        archive_and_back_up(home)
        with_temporal, reports = [], []
        without = []
        for _ in range(args.runs):
            took, report = asyncio.run(
                drill_through_temporal(layout, temporal_address(state.ports))
            )
            with_temporal.append(took)
            reports.append(report)
            without.append(asyncio.run(drill_without_temporal(layout)))
    finally:
        down(home, purge=True)
        shutil.rmtree(home.parent, ignore_errors=True)

    drill = statistics.median(with_temporal)
    plain = statistics.median(without)
    rto = statistics.median(r.rto_seconds for r in reports)  # type: ignore[attr-defined]
    rpo = [r.rpo_seconds for r in reports]  # type: ignore[attr-defined]
    print(f"machine: {os.cpu_count()} cores; runs: {args.runs}; scale {args.scale}")
    print(
        f"sandbox up (cold)      {up_seconds:6.1f} s   baseline bare initdb+start "
        f"{bare:5.1f} s   ratio {up_seconds / bare:5.2f}x   (goal: under 30 s)"
    )
    print(f"seed scale {args.scale:<10} {seed_seconds:6.1f} s")
    print(
        f"drill via Temporal     {drill:6.1f} s   baseline same activities, no "
        f"server {plain:5.1f} s   ratio {drill / plain:5.2f}x   (goal: under 20 s)"
    )
    print(f"drill RTO (reported)   {rto:6.1f} s   RPO per run: {rpo}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Temporal's runtime threads can abort interpreter teardown (SDK issue 300).
    os._exit(0)
