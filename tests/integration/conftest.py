from __future__ import annotations

import pytest

from sandbox.connections import odoo_conninfo
from sandbox.control import archive_and_back_up
from sandbox.seed import seed_database
from tests.conftest import Sandbox


@pytest.fixture(scope="session")
def seeded(sandbox: Sandbox) -> str:
    """The sandbox primary with a small dataset, WAL archived, backed up."""
    conninfo = odoo_conninfo(sandbox.layout, sandbox.state.ports.pg_primary)
    seed_database(
        conninfo, scale=0.05, seed=7, filestore=sandbox.layout.filestore, replace=True
    )
    archive_and_back_up(sandbox.layout.home)
    return conninfo
