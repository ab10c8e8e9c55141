"""The drill's RTO on a large dataset, against the floor of a restore by hand.

Both are measured in the same run, on the same sandbox and the same backup
and WAL:

- the floor: barman-cloud-restore of the newest base backup, then PostgreSQL
  replaying the archived WAL until it promotes, run as plain commands with
  no workflow, no validation and no neutralization: what any restore costs;
- the drill through Temporal (archive checks, restore, replay,
  neutralization, table counts, the business catalogue): its RTO, start
  to validated copy; then its proof against a fingerprint of production
  taken at that moment, which only a drill can make and which comes after
  the RTO, printed as its own figure and ratio.

The RTO ratio is the aim's. The drill restores the same way but fetches
the archived WAL while the base backup restores, where the floor's
restore_command starts one barman-cloud-wal-restore per file: its own
restore and replay are printed beside the floor, and the rest of its RTO
is what validating the copy (and orchestrating it) costs. Each phase of
the drill is printed with its share of the RTO, or as after it.

Run: .venv/bin/python benchmarks/drill_rto.py [--scale 24] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from activities.backups import barman_cloud, store_arguments  # noqa: E402
from odoo_dr.inventory import Environment, load_inventory  # noqa: E402
from odoo_dr.models import DrillInput, DrillReport  # noqa: E402
from sandbox.connections import odoo_conninfo  # noqa: E402
from sandbox.control import (  # noqa: E402
    UpOptions,
    archive_and_back_up,
    archive_current_wal,
    down,
    up,
)
from sandbox.layout import Layout  # noqa: E402
from sandbox.load import run_load  # noqa: E402
from sandbox.objectstore import aws_environment, list_backups  # noqa: E402
from sandbox.processes import as_user, pick_free_ports, service_user  # noqa: E402
from sandbox.seed import seed_database  # noqa: E402
from sandbox.temporal import temporal_address  # noqa: E402
from worker.main import build_worker, connect  # noqa: E402
from workflows.drill import RestoreDrillWorkflow  # noqa: E402


def run(command: list[str | Path], user: str | None, env: dict[str, str]) -> None:
    import os
    import subprocess

    subprocess.run(
        as_user(command, user),
        check=True,
        capture_output=True,
        env={**os.environ, **env},
    )


def restore_by_hand(layout: Layout, env: Environment) -> tuple[float, float]:
    """barman-cloud-restore, then WAL replay to promotion: seconds of each."""
    store, user = env.object_store, service_user()
    aws = aws_environment(layout)
    backup = max(
        (b for b in list_backups(layout, _s3_port(env)) if b["status"] == "DONE"),
        key=lambda b: b["end_time_iso"],
    )
    folder = Path(tempfile.mkdtemp(prefix="odoo-dr-floor-"))
    folder.chmod(0o755)
    if user:
        shutil.chown(folder, user)
    data, port = folder / "pgdata", pick_free_ports(1)[0]
    began = time.monotonic()
    run(
        [
            barman_cloud("barman-cloud-restore"),
            *store_arguments(store),
            store.destination_url,
            store.server_name,
            backup["backup_id"],
            data,
        ],
        user,
        aws,
    )
    exports = "".join(f"export {k}='{v}'\n" for k, v in aws.items())
    restored = time.monotonic()
    script = folder / "restore-wal"
    script.write_text(
        f"#!/bin/sh\n{exports}exec '{barman_cloud('barman-cloud-wal-restore')}' "
        f"{' '.join(store_arguments(store))} {store.destination_url} "
        f'{store.server_name} "$1" "$2"\n'
    )
    script.chmod(0o755)
    with open(data / "postgresql.auto.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{folder}'\narchive_mode = off\n"
            f"restore_command = '{script} %f %p'\nprimary_conninfo = ''\n"
            "recovery_target_action = 'promote'\n"
        )
    # The restored pg_hba.conf is production's (peer on the socket): let the
    # benchmark's own socket in, as the drill does for its copy.
    (data / "pg_hba.conf").write_text("local all all trust\n")
    (data / "recovery.signal").touch()
    (data / "standby.signal").unlink(missing_ok=True)
    (data / "postmaster.pid").unlink(missing_ok=True)
    if user:
        for path in (
            data / "postgresql.auto.conf",
            data / "recovery.signal",
            data / "pg_hba.conf",
        ):
            shutil.chown(path, user)
    bindir = env.drill.bindir
    pg_ctl = str(bindir / "pg_ctl") if bindir else "pg_ctl"
    run([pg_ctl, "start", "-w", "-D", data, "-l", folder / "log"], user, {})
    conninfo = f"host={folder} port={port} user=postgres dbname=postgres"
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(conninfo) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row and not row[0]:
                break
        except psycopg.OperationalError:
            pass
        time.sleep(0.2)
    promoted = time.monotonic()
    run([pg_ctl, "stop", "-m", "immediate", "-D", data], user, {})
    shutil.rmtree(folder, ignore_errors=True)
    return restored - began, promoted - restored


def _s3_port(env: Environment) -> int:
    return int((env.object_store.endpoint_url or "").rsplit(":", 1)[-1])


async def drill_through_temporal(layout: Layout, address: str) -> DrillReport:
    client = await connect(address)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    async with build_worker(client, load_inventory(layout.inventory), queue):
        return await client.execute_workflow(
            RestoreDrillWorkflow.run,
            DrillInput(environment="sandbox", requested_by="benchmark"),
            id=f"bench-drill-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


def phases(report: DrillReport) -> list[tuple[str, float, bool]]:
    """Each step's seconds, and whether it ran within the RTO."""
    return [
        (
            step.name,
            (step.ended_at - step.started_at).total_seconds(),
            report.validated_at is None or step.started_at < report.validated_at,
        )
        for step in report.steps
        if step.ended_at is not None and not step.name.startswith("tear down")
    ]


def to_proven(report: DrillReport) -> float:
    """Drill start to the copy proven against production."""
    assert report.proven_at is not None
    return (report.proven_at - report.started_at).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=24)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="odoo-dr-bench-rto-")) / "home"
    home.parent.chmod(0o755)
    state = up(UpOptions(home=home), progress=lambda _m: None)
    layout = Layout(home)
    try:
        conninfo = odoo_conninfo(layout, state.ports.pg_primary)
        began = time.monotonic()
        seed_database(
            conninfo, scale=args.scale, filestore=layout.filestore, replace=True
        )
        # Set hint bits now, as a production database has them: a first scan
        # of freshly loaded rows (the drill's fingerprint of production)
        # would otherwise write their pages to the WAL (wal_log_hints is on),
        # and the drill would replay that on top of what the floor replays.
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM (FREEZE, ANALYZE)")
        archive_and_back_up(home)
        # Work after the backup, so that both replay archived WAL.
        run_load(conninfo, rate=20, duration=10, ledger=home / "ledger.jsonl")
        archive_current_wal(home)
        print(f"seeded scale {args.scale} in {time.monotonic() - began:.0f} s")
        env = load_inventory(layout.inventory).environment("sandbox")
        floors, rtos, paths, proofs = [], [], [], []
        for number in range(args.runs):
            restore, replay = restore_by_hand(layout, env)
            floors.append(restore + replay)
            report = asyncio.run(
                drill_through_temporal(layout, temporal_address(state.ports))
            )
            assert report.verdict == "pass", report.failure
            assert report.rto_seconds is not None
            rtos.append(report.rto_seconds)
            proofs.append(to_proven(report))
            print(
                f"run {number + 1}: floor {floors[-1]:.1f} s (restore {restore:.1f} s,"
                f" replay {replay:.1f} s), RTO {rtos[-1]:.1f} s, proven against "
                f"production at {proofs[-1]:.1f} s"
            )
            took = {}
            for name, seconds, within in phases(report):
                took[name] = seconds
                share = f"{seconds / report.rto_seconds:5.0%}" if within else "after"
                print(f"    {seconds:7.1f} s  {share:>5}  {name}")
            paths.append(took["restore base backup"] + took["replay archived WAL"])
        floor, rto = statistics.median(floors), statistics.median(rtos)
        path, proven = statistics.median(paths), statistics.median(proofs)
        print(
            f"drill RTO {rto:.1f} s against the floor {floor:.1f} s "
            f"(restore by hand): {rto / floor:.2f}x (aim: at most 1.3x)"
        )
        print(
            f"drill start to the copy proven against production {proven:.1f} s: "
            f"{proven / floor:.2f}x the floor (after the RTO, a drill's own proof)"
        )
        print(
            f"the drill's own restore and replay {path:.1f} s "
            f"({path / floor:.2f}x the floor); validation and orchestration "
            f"{rto - path:.1f} s ({(rto - path) / rto:.0%} of the RTO)"
        )
    finally:
        down(home, purge=True)
        shutil.rmtree(home.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
