"""Processes and ports of the sandbox: start detached, find by pid, stop.

The sandbox records for each server the pid and the kernel's start time of
that pid, so that ``down`` stops exactly what ``up`` started and never a
process that later reused the number.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from odoo_dr.errors import MissingBinaryError, PortInUseError, SandboxError

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Tell whether nothing listens on ``host:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, what: str) -> None:
    """Raise :class:`PortInUseError` naming ``what`` when ``port`` is taken."""
    if not port_is_free(port):
        raise PortInUseError(
            f"port {port} for {what} is in use by another process; "
            f"free it or choose another port"
        )


def pick_free_ports(count: int, taken: set[int] | None = None) -> list[int]:
    """Return ``count`` distinct free loopback ports, avoiding ``taken``."""
    taken = set(taken or ())
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port not in taken and port not in ports:
            ports.append(port)
    return ports


def wait_for_port(port: int, timeout: float, what: str) -> None:
    """Wait until something accepts connections on the loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.1)
    raise SandboxError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def find_binary(name: str, *, directory: Path | None = None, hint: str) -> Path:
    """Locate an executable in ``directory`` or on PATH.

    Raises:
        MissingBinaryError: not found; the message carries ``hint``.
    """
    if directory is not None:
        candidate = directory / name
        if os.access(candidate, os.X_OK):
            return candidate
        raise MissingBinaryError(f"{name} not found in {directory}; {hint}")
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(f"{name} not found on PATH; {hint}")
    return Path(found)


def service_user() -> str | None:
    """The unprivileged user servers run as when the sandbox runs as root.

    PostgreSQL refuses to run as root, so under root the clusters (and the
    barman-cloud commands that read their data directories) run as the
    ``postgres`` account; otherwise everything runs as the calling user.
    """
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SandboxError(
            "running as root needs the unprivileged 'postgres' account "
            "(installed with PostgreSQL) to run the clusters"
        ) from None
    return "postgres"


def as_user(argv: Sequence[str | Path], user: str | None) -> list[str]:
    """Prefix ``argv`` so that it runs as ``user`` (``None``: as ourselves)."""
    args = [str(a) for a in argv]
    if user is None:
        return args
    return ["runuser", "-u", user, "--", *args]


def chown_to(path: Path, user: str | None) -> None:
    """Give ``path`` to ``user`` (no-op when running as ourselves)."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def run(
    argv: Sequence[str | Path],
    *,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    what: str,
) -> str:
    """Run a command to completion and return its standard output.

    Raises:
        SandboxError: non-zero exit; the message names ``what`` and ends with
            the command's last lines of error output.
    """
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        as_user(argv, user),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise SandboxError(f"{what} failed (exit {result.returncode}): {tail}")
    return result.stdout


def start_detached(
    argv: Sequence[str | Path],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a server in its own session, output to ``log_file``; return its pid."""
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    return process.pid


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in field 2 may hold spaces; fields after ')' are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_same_process(pid: int, started: int | None) -> bool:
    """Tell whether ``pid`` still runs and is the process recorded then."""
    current = process_start_time(pid)
    return current is not None and (started is None or current == started)


def stop_process(
    pid: int,
    started: int | None,
    what: str,
    *,
    signum: int = signal.SIGTERM,
    timeout: float = 15,
) -> bool:
    """Stop the recorded process: ``signum``, then SIGKILL after ``timeout``.

    Returns:
        True if it was running and is now stopped, False if it was not running.
    """
    if not is_same_process(pid, started):
        return False
    logger.info("stopping %s (pid %d)", what, pid)
    _signal(pid, signum)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_same_process(pid, started):
            return True
        time.sleep(0.1)
    logger.warning(
        "%s (pid %d) ignored signal %d for %.0f s; killing", what, pid, signum, timeout
    )
    _signal(pid, signal.SIGKILL)
    while is_same_process(pid, started):
        time.sleep(0.1)
    return True


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
