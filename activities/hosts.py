"""Running commands on the hosts of an environment, from inside activities.

Only hosts reached as ``local`` run commands today. SSH and Kubernetes access
is part of the inventory model, but the commands for it are not built yet:
an activity that meets such a host refuses with a non-retryable error that
says so, rather than pretending.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from odoo_dr.errors import BAD_INPUT
from odoo_dr.inventory import HostAccess, LocalAccess

Tick = Callable[[], Awaitable[None]]

# Linux's prctl(PR_SET_PDEATHSIG): the kernel signals the child when the
# process that started it dies, even by SIGKILL. runuser passes SIGTERM on to
# the command it runs.
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _end_with(worker: int) -> Callable[[], None]:
    """What the child runs before exec: end when the worker ends.

    A worker killed mid-activity must not leave a barman-cloud-restore
    writing into a folder that the retry, on another worker, wipes and
    restores again.
    """

    def child() -> None:
        if _LIBC is not None:
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != worker:  # the worker died before prctl took hold
            os._exit(1)

    return child


class CommandError(Exception):
    """A command on a host exited non-zero; Temporal retries the activity."""


def beat(*details: object) -> None:
    """Heartbeat, unless running as a local activity (which cannot)."""
    if not activity.info().is_local:
        activity.heartbeat(*details)


def local_user(access: HostAccess) -> str | None:
    """The account commands run as on a local host (None: the worker's own).

    Raises:
        ApplicationError: the host is not reached locally (non-retryable).
    """
    if not isinstance(access, LocalAccess):
        raise ApplicationError(
            f"host access {access.kind!r} is not supported for this step yet; "
            "only 'local' hosts can run it",
            type=BAD_INPUT,
            non_retryable=True,
        )
    if access.os_user is None or os.geteuid() != 0:
        return None
    return access.os_user


def as_user(argv: Sequence[str | Path], user: str | None) -> list[str]:
    """Prefix ``argv`` with runuser when it must run as another account."""
    args = [str(a) for a in argv]
    return args if user is None else ["runuser", "-u", user, "--", *args]


async def run_command(
    argv: Sequence[str | Path],
    *,
    user: str | None,
    what: str,
    env: Mapping[str, str] | None = None,
    tick: Tick | None = None,
    tick_every: float = 2.0,
) -> str:
    """Run a command, calling ``tick`` (e.g. a heartbeat) while it runs.

    Returns:
        The command's standard output.

    Raises:
        CommandError: non-zero exit, with the last lines of its error output.
    """
    process = await asyncio.create_subprocess_exec(
        *as_user(argv, user),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
        preexec_fn=_end_with(os.getpid()),
    )
    communicate = asyncio.ensure_future(process.communicate())
    try:
        while True:
            done, _ = await asyncio.wait({communicate}, timeout=tick_every)
            if done:
                break
            if tick is not None:
                await tick()
    except BaseException:
        # Cancelled (activity cancelled or worker stopping): do not leave the
        # command running behind us.
        if process.returncode is None:
            process.kill()
        raise
    stdout, stderr = communicate.result()
    if process.returncode != 0:
        lines = (stderr or stdout).decode(errors="replace").strip().splitlines()
        raise CommandError(
            f"{what} failed (exit {process.returncode}): " + " | ".join(lines[-4:])
        )
    return stdout.decode(errors="replace")
