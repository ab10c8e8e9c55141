"""A seeded Odoo database to validate, and a fresh copy of it for each test.

The base database is seeded once per session on the throwaway cluster. Each
test gets its own copy (``CREATE DATABASE ... TEMPLATE``) and its own copy of
the filestore, so a test may damage both without harming the others.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from activities.odoo_checks.catalogue import run_catalogue, select_checks
from odoo_dr.validation import AttachmentSample, CheckResult, Expectations
from sandbox.seed import seed_database
from tests.clusters import Cluster

BASE = "odoo_validation_base"
SCALE = 0.05
_copies = itertools.count(1)


@dataclass
class OdooCopy:
    """A copy of the seeded database and its filestore folder."""

    conninfo: str
    dbname: str
    filestore: Path
    database_uuid: str

    def execute(self, statement: str, params: tuple[object, ...] = ()) -> None:
        """Damage (or repair) the copy with one statement."""
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(statement, params)  # type: ignore[arg-type]

    def value(self, query: str, params: tuple[object, ...] = ()) -> object:
        """The first column of the first row of a query."""
        with psycopg.connect(self.conninfo) as conn:
            row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return row[0]

    async def validate(
        self,
        *areas: str,
        expected: Expectations | None = None,
        attachments: AttachmentSample | None = None,
    ) -> dict[str, CheckResult]:
        """Run the catalogue (or the checks of ``areas``); results by name."""
        _, results = await run_catalogue(
            self.conninfo,
            inventory_version="17.0",
            expected=expected or Expectations(database_uuid=self.database_uuid),
            checks=select_checks(areas),
            filestore=self.filestore,
            attachments_sample=attachments,
        )
        return {result.name: result for result in results}


@pytest.fixture(scope="session")
def odoo_base(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The seeded base database: its filestore root and database.uuid."""
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{BASE}"')
    filestore = tmp_path_factory.mktemp("validation-filestore")
    seed_database(
        pg_cluster.conninfo(BASE),
        scale=SCALE,
        seed=11,
        filestore=filestore,
        database_name=BASE,
    )
    with psycopg.connect(pg_cluster.conninfo(BASE)) as conn:
        row = conn.execute(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        ).fetchone()
    assert row is not None
    return filestore, row[0]


@pytest.fixture
def odoo_copy(
    pg_cluster: Cluster, odoo_base: tuple[Path, str], tmp_path: Path
) -> OdooCopy:
    """A private copy of the seeded database and of its filestore."""
    filestore, database_uuid = odoo_base
    name = f"odoo_validation_{next(_copies)}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{BASE}"')
    folder = tmp_path / "filestore" / name
    shutil.copytree(filestore / BASE, folder)
    return OdooCopy(pg_cluster.conninfo(name), name, folder, database_uuid)
