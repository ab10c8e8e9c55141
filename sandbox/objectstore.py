"""The sandbox's object store: moto's S3 server, the bucket, and barman-cloud.

moto keeps its data in memory and only partly enforces Object Lock (no lock
on multipart uploads, retention can be shortened): the sandbox shows the
flow of a locked bucket, not its immutability.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from sandbox.layout import BACKUP_PREFIX, BUCKET, SERVER_NAME, Layout
from sandbox.processes import LOOPBACK, run

logger = logging.getLogger(__name__)

# A WAL segment's object name: 24 hex digits, maybe a compression suffix.
_WAL_SEGMENT = re.compile(r"^[0-9A-F]{24}(\.(gz|bz2|snappy|zst|lz4|xz))?$")


def venv_bin(name: str) -> Path:
    """A console script installed beside the running interpreter."""
    return Path(sys.executable).parent / name


def endpoint_url(port: int) -> str:
    """The S3 endpoint; an IP address makes boto3 use path-style addressing."""
    return f"http://{LOOPBACK}:{port}"


def destination_url() -> str:
    """Where barman-cloud keeps the sandbox's backups and WAL."""
    return f"s3://{BUCKET}/{BACKUP_PREFIX}"


def s3_command(port: int) -> list[str]:
    """The command line of moto's S3 server on loopback."""
    return [str(venv_bin("moto_server")), "-H", LOOPBACK, "-p", str(port)]


def aws_environment(layout: Layout) -> dict[str, str]:
    """Variables that point boto3 and barman-cloud at the generated credentials."""
    return {
        "AWS_SHARED_CREDENTIALS_FILE": str(layout.secret("aws-credentials")),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def s3_client(layout: Layout, port: int) -> Any:
    """A boto3 S3 client on the sandbox's server, with the generated keys."""
    session = boto3.Session(
        aws_access_key_id=layout.secret("s3-access-key-id").read_text().strip(),
        aws_secret_access_key=layout.secret("s3-secret-access-key").read_text().strip(),
        region_name="us-east-1",
    )
    return session.client("s3", endpoint_url=endpoint_url(port))


def create_bucket(layout: Layout, port: int) -> None:
    """Create the backup bucket with versioning and Object Lock, if missing."""
    client = s3_client(layout, port)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if BUCKET in existing:
        return
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    # Every backup and WAL object is retained a day, as a production bucket's
    # default rule would keep them for its retention period. GOVERNANCE, so
    # that a person (and a test) can still lift it; moto keeps all of it in
    # memory anyway.
    client.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )


def write_archive_script(layout: Layout, port: int) -> Path:
    """Write the primary's archive_command: barman-cloud-wal-archive to S3."""
    script = layout.bin / "archive-wal"
    env = aws_environment(layout)
    exports = "".join(f"export {key}='{value}'\n" for key, value in env.items())
    script.write_text(
        "#!/bin/sh\n"
        "# archive_command of the odoo-dr sandbox primary\n"
        f"{exports}"
        f"exec '{venv_bin('barman-cloud-wal-archive')}' "
        f"--endpoint-url {endpoint_url(port)} "
        f'{destination_url()} {SERVER_NAME} "$1"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def take_base_backup(
    layout: Layout, s3_port: int, pg_port: int, user: str | None
) -> None:
    """Take a base backup of the primary with barman-cloud-backup.

    barman-cloud-backup reads the data directory itself, so it runs as the
    cluster's owner.
    """
    run(
        [
            venv_bin("barman-cloud-backup"),
            "--endpoint-url",
            endpoint_url(s3_port),
            "-h",
            LOOPBACK,
            "-p",
            str(pg_port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "--immediate-checkpoint",
            destination_url(),
            SERVER_NAME,
        ],
        user=user,
        env={**aws_environment(layout), "PGPASSFILE": str(layout.secret("pgpass"))},
        timeout=1800,
        what="barman-cloud-backup of the primary",
    )


def list_backups(layout: Layout, s3_port: int) -> list[dict[str, Any]]:
    """The base backups in the store, oldest first, as barman-cloud lists them."""
    out = run(
        [
            venv_bin("barman-cloud-backup-list"),
            "--endpoint-url",
            endpoint_url(s3_port),
            "--format",
            "json",
            destination_url(),
            SERVER_NAME,
        ],
        env=aws_environment(layout),
        timeout=60,
        what="barman-cloud-backup-list",
    )
    backups: list[dict[str, Any]] = json.loads(out).get("backups_list", [])
    return backups


def newest_wal_object(layout: Layout, s3_port: int) -> tuple[str, datetime] | None:
    """The newest archived WAL segment in the bucket and when it arrived."""
    client = s3_client(layout, s3_port)
    prefix = f"{BACKUP_PREFIX}/{SERVER_NAME}/wals/"
    newest: tuple[str, datetime] | None = None
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix
    ):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if not _WAL_SEGMENT.match(name):
                continue
            modified = obj["LastModified"].astimezone(UTC)
            if newest is None or name > newest[0]:
                newest = (name, modified)
    return newest
