"""Workers as processes of their own (``odoo-dr worker``), to kill or upgrade."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Sandbox


def start_worker(
    sandbox: Sandbox, queue: str, log: Path, *options: str
) -> subprocess.Popen[bytes]:
    """Start ``odoo-dr worker`` on ``queue``, with ``options`` appended."""
    command = [
        str(Path(sys.executable).parent / "odoo-dr"),
        "worker",
        "--inventory",
        str(sandbox.layout.inventory),
        "--address",
        sandbox.address,
        "--task-queue",
        queue,
        *options,
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
