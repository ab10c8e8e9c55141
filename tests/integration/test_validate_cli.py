"""``odoo-dr validate`` from a shell: a readable table, and refusals."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from temporalio.worker import Worker

from tests.conftest import Sandbox

CLI = [str(Path(sys.executable).parent / "odoo-dr")]


async def odoo_dr(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI off the event loop, so the test's worker keeps polling."""
    env = dict(os.environ, ODOO_DR_TEMPORAL_ADDRESS=sandbox.address)
    command = [*CLI, *args, "--inventory", str(sandbox.layout.inventory)]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=300
    )


async def test_unknown_node_is_refused_before_anything_starts(
    sandbox: Sandbox,
) -> None:
    result = await odoo_dr(sandbox, "validate", "--env", "sandbox", "--target", "pg-z")
    assert result.returncode == 2
    assert "has no node 'pg-z'" in result.stderr
    assert "started" not in result.stderr


async def test_unreadable_fingerprint_is_refused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    bogus = tmp_path / "fingerprint.json"
    bogus.write_text('{"source": 1}')
    result = await odoo_dr(
        sandbox, "validate", "--env", "sandbox", "--compare", str(bogus)
    )
    assert result.returncode == 2
    assert "is not an odoo-dr fingerprint" in result.stderr


async def test_validate_prints_a_table_and_writes_the_fingerprint(
    sandbox: Sandbox, seeded: str, worker: Worker, task_queue: str, tmp_path: Path
) -> None:
    out = tmp_path / "fp.json"
    result = await odoo_dr(
        sandbox,
        "validate",
        "--env",
        "sandbox",
        "--task-queue",
        task_queue,
        "--fingerprint-out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "accounting.balanced_moves" in result.stdout
    assert "application.health" in result.stdout
    assert json.loads(out.read_text())["tables"]["account_move_line"]["rows"] > 0
