"""Bad input gets one clear message, a non-zero exit, and changes nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sandbox.postgres import find_pg_bindir
from sandbox.processes import port_is_free
from tests.conftest import Sandbox, shared_tmp

CLI = [str(Path(sys.executable).parent / "odoo-dr")]


def odoo_dr(*args: str, home: Path | None = None, timeout: float = 120):
    env = dict(os.environ)
    if home is not None:
        env["ODOO_DR_SANDBOX_HOME"] = str(home)
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_malformed_inventory_is_refused_with_its_path(tmp_path: Path):
    bad = tmp_path / "inventory.yaml"
    bad.write_text("environments: [oops")
    result = odoo_dr("drill", "run", "--env", "sandbox", "--inventory", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"odoo-dr: {bad}: cannot parse")
    assert "Traceback" not in result.stderr


def test_unknown_environment_is_refused_before_anything_starts(sandbox: Sandbox):
    result = odoo_dr(
        "drill", "run", "--env", "prdo", "--inventory", str(sandbox.layout.inventory)
    )
    assert result.returncode == 2
    assert "unknown environment 'prdo'" in result.stderr
    assert "sandbox" in result.stderr


def test_versioned_worker_without_a_build_id_is_refused(sandbox: Sandbox):
    result = odoo_dr(
        "worker",
        "--inventory",
        str(sandbox.layout.inventory),
        "--address",
        sandbox.address,
        "--deployment",
        "odoo-dr",
        timeout=60,
    )
    assert result.returncode == 2
    assert "needs both --deployment and --build-id" in result.stderr
    assert "worker polling" not in result.stderr


def test_port_in_use_refuses_up_and_leaves_nothing(tmp_path: Path):
    home = shared_tmp("odoo-dr-refuse-") / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = odoo_dr(
            "sandbox", "--home", str(home), "up", "--redis-port", str(port)
        )
    assert result.returncode == 2
    assert f"port {port} for redis is in use" in result.stderr
    assert not home.exists()


def test_missing_postgres_binaries_refuse_up(tmp_path: Path):
    home = shared_tmp("odoo-dr-refuse-") / "home"
    result = odoo_dr(
        "sandbox", "--home", str(home), "up", "--pg-bindir", str(tmp_path / "nope")
    )
    assert result.returncode == 2
    assert "PostgreSQL server binaries missing" in result.stderr
    assert not home.exists()


def test_missing_redis_binary_refuses_up(tmp_path: Path):
    home = shared_tmp("odoo-dr-refuse-") / "home"
    result = odoo_dr(
        "sandbox",
        "--home",
        str(home),
        "up",
        "--redis-server",
        str(tmp_path / "bin" / "redis-server"),
    )
    assert result.returncode == 2
    assert "redis-server not found" in result.stderr
    assert not home.exists()


def test_down_when_nothing_is_up_is_refused(tmp_path: Path):
    result = odoo_dr("sandbox", "--home", str(tmp_path / "empty"), "down")
    assert result.returncode == 2
    assert "nothing to stop" in result.stderr


def test_failed_start_midway_stops_what_it_started():
    # initdb that fails after the S3 server is already running: up must stop
    # the S3 server again and remove the half-made home.
    home = shared_tmp("odoo-dr-midway-") / "home"
    bindir = shared_tmp("odoo-dr-fakepg-")
    real = find_pg_bindir()
    for tool in ("pg_ctl", "pg_basebackup", "postgres"):
        (bindir / tool).symlink_to(real / tool)
    (bindir / "initdb").symlink_to("/bin/false")
    s3_port = _free_port()
    result = odoo_dr(
        "sandbox",
        "--home",
        str(home),
        "up",
        "--pg-bindir",
        str(bindir),
        "--s3-port",
        str(s3_port),
    )
    assert result.returncode == 2
    assert "initdb of the region A primary failed" in result.stderr
    assert not home.exists()
    assert _eventually_free(s3_port)


def test_worker_stops_cleanly_on_sigterm(sandbox: Sandbox):
    env = dict(os.environ)
    process = subprocess.Popen(
        [
            *CLI,
            "worker",
            "--inventory",
            str(sandbox.layout.inventory),
            "--address",
            sandbox.address,
            "--task-queue",
            "odoo-dr-sigterm-test",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        if "worker polling" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _eventually_free(port: int) -> bool:
    for _ in range(50):
        if port_is_free(port):
            return True
        time.sleep(0.1)
    return False
