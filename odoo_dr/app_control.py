"""The control file of an app-tier process: the sandbox's Deployment.

On Kubernetes, odoo-dr scales Odoo's Deployments and edits the ConfigMap
that names the database host. A process app (the sandbox's load generator,
or any stand-in writer) gets the same two orders from one JSON file:
``paused`` (scaled to zero: no connection, no transaction in flight) and
the database ``host`` and ``port``. Each order has a ``generation``; the
process answers in ``<file>.state`` with the generation it obeys, its state
and its pid, as a Deployment's status answers its spec.

Both files are replaced atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError


class AppOrder(BaseModel):
    """What the app must do: run or pause, against which database."""

    generation: int = 0
    paused: bool = False
    host: str | None = None
    port: int | None = None


class AppStatus(BaseModel):
    """What the app does: the order it obeys, and whether it runs."""

    generation: int
    state: Literal["running", "paused", "stopped"]
    pid: int
    host: str | None = None
    port: int | None = None


def state_file(control: Path) -> Path:
    """Where the process answers the orders of ``control``."""
    return control.with_name(control.name + ".state")


def read_order(control: Path) -> AppOrder | None:
    """The current order; None when there is no (readable) control file."""
    try:
        return AppOrder.model_validate_json(control.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def write_order(control: Path, order: AppOrder) -> None:
    """Replace the control file with ``order``."""
    _replace(control, order.model_dump_json())


def read_status(control: Path) -> AppStatus | None:
    """The process's last answer; None before it answered."""
    try:
        return AppStatus.model_validate_json(
            state_file(control).read_text(encoding="utf-8")
        )
    except (OSError, ValidationError):
        return None


def write_status(control: Path, status: AppStatus) -> None:
    """Answer the control file (done by the process itself)."""
    _replace(state_file(control), status.model_dump_json())


def process_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
