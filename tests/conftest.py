"""Fixtures that choose the real servers the tests talk to.

The sandbox fixture brings up the same real services users get from
``odoo-dr sandbox up`` (Temporal dev server, PostgreSQL primary and streaming
standby, moto's S3 server with barman-cloud, Redis) once per test session,
in a fresh folder on free ports, and stops them at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from odoo_dr.inventory import Environment, Inventory, load_inventory
from sandbox.control import UpOptions, down, up
from sandbox.layout import Layout, SandboxState
from sandbox.temporal import temporal_address
from tests.clusters import database, pg_cluster  # noqa: F401  (fixtures)
from worker.main import build_worker, connect


def shared_tmp(prefix: str) -> Path:
    """A temp folder the ``postgres`` account can traverse (pytest's is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@dataclass
class Sandbox:
    layout: Layout
    state: SandboxState
    inventory: Inventory

    @property
    def env(self) -> Environment:
        return self.inventory.environment("sandbox")

    @property
    def address(self) -> str:
        return temporal_address(self.state.ports)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    home = shared_tmp("odoo-dr-sandbox-") / "home"
    state = up(UpOptions(home=home), progress=lambda _msg: None)
    layout = Layout(home)
    try:
        yield Sandbox(layout, state, load_inventory(layout.inventory))
    finally:
        down(home, purge=False)
        shutil.rmtree(home.parent, ignore_errors=True)


@pytest.fixture(scope="session")
async def client(sandbox: Sandbox) -> Client:
    return await connect(sandbox.address)


@pytest.fixture(scope="session")
def task_queue() -> str:
    return f"odoo-dr-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
async def worker(
    sandbox: Sandbox, client: Client, task_queue: str
) -> AsyncIterator[Worker]:
    running = build_worker(client, sandbox.inventory, task_queue)
    async with running:
        yield running
