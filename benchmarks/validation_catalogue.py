"""How long the validation catalogue and a fingerprint take on a ~1 GB Odoo database.

The database is seeded (scale 24 is about 1 GB) on a throwaway PostgreSQL
cluster, with its filestore. The baseline, measured in the same run, is one
sequential read of every table the catalogue looks at (``count(*)`` of each):
the least any check of the whole database must pay. The ratios say how much
more the catalogue and the fingerprint cost than that read. Per-check times
show which checks dominate.

Run: .venv/bin/python benchmarks/validation_catalogue.py [--scale 24] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from activities.odoo_checks import fingerprint  # noqa: E402
from activities.odoo_checks.catalogue import run_catalogue, select_checks  # noqa: E402
from odoo_dr.validation import CheckResult, Expectations  # noqa: E402
from sandbox.postgres import find_pg_bindir  # noqa: E402
from sandbox.processes import as_user, pick_free_ports, service_user  # noqa: E402
from sandbox.seed import seed_database  # noqa: E402

BASELINE_TABLES = (
    "account_move",
    "account_move_line",
    "purchase_order",
    "purchase_order_line",
    "hr_payslip_run",
    "hr_payslip",
    "hr_payslip_line",
    "project_project",
    "account_analytic_line",
    "ir_attachment",
    "ir_cron",
    "queue_job",
)


class Cluster:
    """A throwaway cluster on a free loopback port (as ``postgres`` under root)."""

    def __init__(self) -> None:
        self.bindir = find_pg_bindir()
        self.user = service_user()
        self.folder = Path(tempfile.mkdtemp(prefix="odoo-dr-bench-validate-"))
        self.folder.chmod(0o755)
        if self.user:
            shutil.chown(self.folder, self.user)
        self.data = self.folder / "data"
        self.port = pick_free_ports(1)[0]

    def start(self) -> None:
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=512MB "
            "-c track_commit_timestamp=on -c max_wal_size=4GB"
        )
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            self.data,
            "-l",
            self.folder / "log",
            "-o",
            options,
        )

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", self.data)
        shutil.rmtree(self.folder, ignore_errors=True)

    def conninfo(self, dbname: str = "odoo") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def _run(self, program: str, *args: object) -> None:
        command = as_user([self.bindir / program, *args], self.user)
        subprocess.run(command, check=True, capture_output=True)


def baseline_seconds(conninfo: str) -> float:
    with psycopg.connect(conninfo) as conn:
        began = time.monotonic()
        for table in BASELINE_TABLES:
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return time.monotonic() - began


async def catalogue_run(
    conninfo: str, filestore: Path, database_uuid: str
) -> tuple[float, list[CheckResult]]:
    began = time.monotonic()
    _, results = await run_catalogue(
        conninfo,
        inventory_version="17.0",
        expected=Expectations(database_uuid=database_uuid),
        checks=select_checks([]),
        filestore=filestore,
    )
    return time.monotonic() - began, results


async def fingerprint_seconds(conninfo: str) -> float:
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        began = time.monotonic()
        await fingerprint.capture(conn, "benchmark")
        return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    cluster = Cluster()
    cluster.start()
    filestore = cluster.folder / "filestore"
    try:
        with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE odoo")
        seeded = time.monotonic()
        summary = seed_database(
            cluster.conninfo(), scale=args.scale, filestore=filestore
        )
        seed_took = time.monotonic() - seeded
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            row = conn.execute(
                "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
            ).fetchone()
        assert row is not None
        baselines, catalogues, prints, per_check = [], [], [], {}
        for _ in range(args.runs):
            baselines.append(baseline_seconds(cluster.conninfo()))
            took, results = asyncio.run(
                catalogue_run(cluster.conninfo(), filestore / "odoo", row[0])
            )
            catalogues.append(took)
            for result in results:
                per_check.setdefault(result.name, []).append(result.seconds)
            bad = [r.name for r in results if r.verdict == "fail"]
            assert not bad, f"healthy data failed checks: {bad}"
            prints.append(asyncio.run(fingerprint_seconds(cluster.conninfo())))
    finally:
        cluster.stop()

    base = statistics.median(baselines)
    catalogue = statistics.median(catalogues)
    taken = statistics.median(prints)
    print(
        f"machine: {os.cpu_count()} cores; runs: {args.runs}; scale {args.scale}: "
        f"{summary.database_bytes / 1e9:.2f} GB database, "
        f"{summary.filestore_files} filestore files; seeded in {seed_took:.0f} s"
    )
    print(f"baseline: one read of {len(BASELINE_TABLES)} tables  {base:6.2f} s")
    print(
        f"full catalogue                  {catalogue:6.2f} s   ratio "
        f"{catalogue / base:5.2f}x   (goal: under 15 s)"
    )
    print(
        f"fingerprint capture             {taken:6.2f} s   ratio {taken / base:5.2f}x"
    )
    print("slowest checks (median seconds):")
    ranked = sorted(per_check.items(), key=lambda kv: -statistics.median(kv[1]))
    for name, times in ranked[:8]:
        print(f"  {statistics.median(times):6.2f} s  {name}")


if __name__ == "__main__":
    main()
