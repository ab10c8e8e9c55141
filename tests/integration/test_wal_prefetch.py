"""WAL fetched ahead of a drill copy's recovery, on the sandbox's real S3 server."""

from __future__ import annotations

import gzip
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from activities.backups import WAL_SPOOL, _write_credentials, _write_recovery_settings
from activities.wal_prefetch import LISTED, prefetch_wal
from odoo_dr.inventory import ObjectStore
from sandbox import objectstore
from sandbox.layout import BUCKET
from tests.archive import wal_keys
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

BEGIN = "0000000100000000000000A1"
# Object names under wals/ -> whether the spool should hold them. The bucket
# keeps objects for a day (Object Lock), so each test writes its own server.
ARCHIVE = {
    "00000002.history": True,
    "0000000100000000/0000000100000000000000A0": False,  # before the backup
    f"0000000100000000/{BEGIN}": True,
    "0000000100000000/0000000100000000000000A2": True,
    "0000000100000000/0000000100000000000000A3.gz": False,  # barman unpacks it
    "0000000100000000/0000000100000000000000A4.partial": False,
    f"0000000100000000/{BEGIN}.00000028.backup": False,  # not WAL
    "0000000100000001/000000010000000100000000": True,  # the next log
    "0000000200000000/0000000200000000000000A3": True,  # a later timeline
    "0000000100000000/0000000100000000000000A5.gz": False,
}


@pytest.fixture
def store(sandbox: Sandbox) -> ObjectStore:
    own = f"prefetch-{uuid.uuid4().hex[:8]}"
    return sandbox.env.object_store.model_copy(update={"server_name": own})


@pytest.fixture
def s3(sandbox: Sandbox) -> Any:
    return objectstore.s3_client(sandbox.layout, sandbox.state.ports.s3)


def put_archive(s3: Any, store: ObjectStore) -> dict[str, bytes]:
    contents = {}
    for name in ARCHIVE:
        body = f"wal {name}".encode() * 64
        stored = gzip.compress(body) if name.endswith(".gz") else body
        key = f"{store.prefix}/{store.server_name}/wals/{name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=stored)
        contents[name.rsplit("/", 1)[-1]] = body
    return contents


def test_spool_holds_the_plain_wal_from_the_backup_on(
    store: ObjectStore, s3: Any, tmp_path: Path
) -> None:
    contents = put_archive(s3, store)
    spool = tmp_path / "spool"

    done = prefetch_wal(store, BEGIN, spool)

    spooled = {p.name for p in spool.iterdir() if p.name != LISTED}
    expected = {n.rsplit("/", 1)[-1] for n, keep in ARCHIVE.items() if keep}
    assert spooled == expected
    assert all((spool / name).read_bytes() == contents[name] for name in spooled)
    assert done.files == len(expected)


def test_listing_names_what_restore_command_may_ask_for(
    store: ObjectStore, s3: Any, tmp_path: Path
) -> None:
    put_archive(s3, store)
    spool = tmp_path / "spool"

    done = prefetch_wal(store, BEGIN, spool)

    listed = (spool / LISTED).read_text().split()
    assert listed == sorted(
        [
            "00000002.history",
            BEGIN,
            "0000000100000000000000A2",
            "0000000100000000000000A3",
            "0000000100000000000000A4",
            "0000000100000000000000A5",
            "000000010000000100000000",
            "0000000200000000000000A3",
        ]
    )
    assert done.left_to_barman == [
        "0000000100000000000000A3",
        "0000000100000000000000A4",
        "0000000100000000000000A5",
    ]


def test_unreachable_store_leaves_no_listing(
    store: ObjectStore, tmp_path: Path
) -> None:
    closed = store.model_copy(update={"endpoint_url": "http://127.0.0.1:9"})
    spool = tmp_path / "spool"

    with pytest.raises(Exception, match="Could not connect"):
        prefetch_wal(closed, BEGIN, spool)

    assert not (spool / LISTED).exists()


@pytest.fixture
def restore_wal(sandbox: Sandbox, tmp_path: Path) -> Path:
    """The restore_command script a drill copy gets, in a folder of its own."""
    folder = tmp_path / "drill"
    data_dir = folder / "pgdata"
    data_dir.mkdir(parents=True)
    env = sandbox.env
    credentials = _write_credentials(folder, env.object_store, None)
    _write_recovery_settings(env, folder, data_dir, 55999, credentials, None)
    (folder / WAL_SPOOL).mkdir()
    return folder / "restore-wal"


def run_restore_wal(
    script: Path, name: str, dest: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), name, str(dest)], capture_output=True, text=True, timeout=60
    )


def test_restore_command_copies_from_the_spool(
    restore_wal: Path, tmp_path: Path
) -> None:
    spool = restore_wal.parent / WAL_SPOOL
    (spool / BEGIN).write_bytes(b"segment from the spool")
    (spool / LISTED).write_text(f"{BEGIN}\n")

    first = run_restore_wal(restore_wal, BEGIN, tmp_path / "one")
    again = run_restore_wal(restore_wal, BEGIN, tmp_path / "two")

    assert first.returncode == again.returncode == 0
    # PostgreSQL may ask twice for the last segment: the spool keeps it.
    assert (tmp_path / "two").read_bytes() == b"segment from the spool"


def test_restore_command_answers_absent_without_asking_the_store(
    restore_wal: Path, tmp_path: Path
) -> None:
    spool = restore_wal.parent / WAL_SPOOL
    (spool / LISTED).write_text(f"{BEGIN}\n")

    answer = run_restore_wal(restore_wal, "00000003.history", tmp_path / "history")

    assert answer.returncode == 1
    # barman-cloud-wal-restore, when asked, says "does not exist" on stderr.
    assert answer.stderr == ""
    assert not (tmp_path / "history").exists()


def test_restore_command_leaves_a_listed_file_it_lacks_to_barman(
    sandbox: Sandbox, seeded: str, s3: Any, restore_wal: Path, tmp_path: Path
) -> None:
    archived = sorted(wal_keys(s3))[-1]
    spool = restore_wal.parent / WAL_SPOOL
    (spool / LISTED).write_text(f"{archived}\n")

    answer = run_restore_wal(restore_wal, archived, tmp_path / "segment")

    assert answer.returncode == 0, answer.stderr
    assert (tmp_path / "segment").stat().st_size == 16 * 1024 * 1024
