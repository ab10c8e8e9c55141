"""Where the sandbox keeps things, and the state file that ``up`` writes.

Everything lives under one home folder (``.sandbox`` in the working folder
unless ``ODOO_DR_SANDBOX_HOME`` says otherwise): data directories, logs,
generated secrets, the inventory of environment ``sandbox`` and
``state.json``, which records the ports and the processes ``up`` started.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from odoo_dr.errors import SandboxError

ENVIRONMENT = "sandbox"
BUCKET = "odoo-dr-sandbox"
BACKUP_PREFIX = "pg"
SERVER_NAME = "sandbox"
DATABASE = "odoo"
SLOT = "region_b"


def default_home() -> Path:
    """The sandbox home: ``$ODOO_DR_SANDBOX_HOME`` or ``./.sandbox``."""
    configured = os.environ.get("ODOO_DR_SANDBOX_HOME")
    return Path(configured).resolve() if configured else Path.cwd() / ".sandbox"


class Ports(BaseModel):
    """Loopback ports of the sandbox's servers."""

    temporal: int
    temporal_ui: int
    temporal_http: int
    temporal_metrics: int
    pg_primary: int
    pg_standby: int
    s3: int
    redis: int

    def described(self) -> dict[str, int]:
        """Ports by the component that listens on them."""
        return self.model_dump()


class ProcessRecord(BaseModel):
    """A process ``up`` started: its pid and the kernel's start time of it."""

    pid: int
    started: int | None


class SandboxState(BaseModel):
    """What ``up`` built, as ``status`` and ``down`` need to know it."""

    home: Path
    ports: Ports
    service_user: str | None
    processes: dict[str, ProcessRecord] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Layout:
    """Paths under a sandbox home."""

    def __init__(self, home: Path) -> None:
        self.home = home.resolve()
        self.state_file = self.home / "state.json"
        self.inventory = self.home / "inventory.yaml"
        self.logs = self.home / "logs"
        self.secrets = self.home / "secrets"
        self.bin = self.home / "bin"
        self.run = self.home / "run"
        self.pg = self.home / "pg"
        self.primary_data = self.pg / "region-a"
        self.standby_data = self.pg / "region-b"
        self.temporal_db = self.home / "temporal" / "temporal.db"
        self.redis_dir = self.home / "redis"
        self.filestore = self.home / "filestore"
        self.drills = self.home / "drills"
        self.ledger = self.home / "load-ledger.jsonl"
        self.app = self.home / "app"
        self.traefik = self.home / "traefik"

    def app_control(self, region: str) -> Path:
        """The control file of the sandbox's Odoo stand-in in ``region``."""
        return self.app / f"odoo-{region}.json"

    def secret(self, name: str) -> Path:
        """The file holding the generated secret ``name``."""
        return self.secrets / name

    def log(self, component: str) -> Path:
        """The log file of ``component``."""
        return self.logs / f"{component}.log"

    def read_state(self) -> SandboxState | None:
        """The recorded state, or None when nothing was brought up here."""
        try:
            raw = self.state_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return SandboxState.model_validate(json.loads(raw))
        except ValueError as exc:
            raise SandboxError(f"{self.state_file} is damaged: {exc}") from None

    def write_state(self, state: SandboxState) -> None:
        """Record ``state`` atomically."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(self.state_file)
