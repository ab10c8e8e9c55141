"""Activities on the object store's base backups and WAL archive (barman-cloud)."""

from __future__ import annotations

import asyncio
import io
import os
import pwd
import random
import re
import shutil
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from barman.cloud import BackupInfo
from botocore.exceptions import BotoCoreError, ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hosts import local_user, run_command
from activities.object_store import s3_client, server_prefix
from activities.wal_prefetch import LISTED, prefetch_wal
from odoo_dr.errors import BACKUP_NOT_FOUND, BAD_INPUT
from odoo_dr.inventory import (
    Environment,
    Inventory,
    LocalAccess,
    ObjectStore,
    RecoveryTier,
)
from odoo_dr.models import BackupChoice, RestoredCopy
from odoo_dr.secrets import resolve_secret

RESTORE_MARKER = "odoo-dr-restore.json"
# Where a drill's WAL is fetched ahead to, in its folder.
WAL_SPOOL = "wal-spool"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,120}$")


# The copy's access rules while it recovers: its own socket only. The socket
# lives in the drill's folder (mode 0700): its owner and root alone reach it.
RECOVERING_HBA = (
    "# odoo-dr drill copy, recovering: only the drill folder's socket answers\n"
    "local all all trust\n"
)


def barman_cloud(command: str) -> str:
    """Path of a barman-cloud command installed beside the worker's Python."""
    beside = Path(sys.executable).parent / command
    return str(beside) if beside.exists() else command


def store_arguments(store: ObjectStore) -> list[str]:
    """The options every barman-cloud command needs to reach ``store``."""
    args = ["--cloud-provider", "aws-s3"]
    if store.endpoint_url:
        args += ["--endpoint-url", store.endpoint_url]
    return args


def drill_folder(environment: Environment, drill_id: str) -> Path:
    """The folder of one drill's copy: data directory, scripts, logs.

    Raises:
        ApplicationError: ``drill_id`` could escape the work directory.
    """
    if not _SAFE_ID.match(drill_id):
        raise ApplicationError(
            f"drill id {drill_id!r} must be letters, digits, '-', '_' or '.'",
            type=BAD_INPUT,
            non_retryable=True,
        )
    return environment.drill.work_dir / drill_id


def free_port(host: str, low: int, high: int) -> int:
    """A port in ``low..high`` that nothing listens on at ``host``.

    Raises:
        ApplicationError: every port of the range is taken (non-retryable:
            widen ``drill.port_range`` in the inventory).
    """
    for port in range(low, high + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise ApplicationError(
        f"no free port in {low}-{high} on {host} for a drill copy",
        type=BAD_INPUT,
        non_retryable=True,
    )


class BackupActivities:
    """Reading and restoring base backups of an environment's object store."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def select_backup(
        self, environment: str, backup_id: str | None, choice: str = "newest"
    ) -> BackupChoice:
        """Pick the base backup to restore: ``backup_id``, else by ``choice``.

        ``newest``, or ``random``: any completed backup still in the store,
        so that old backups going bad are caught too. Changes nothing.
        Retrying is safe (a retry of ``random`` may pick another one; the
        run keeps the pick of the attempt that completed). Gives up
        (non-retryable) when the store holds no completed backup or not the
        one named.
        """
        env = self._inventory.environment(environment)
        store = env.object_store
        done = await asyncio.to_thread(completed_backups, store)
        if backup_id is not None:
            done = [b for b in done if b.backup_id == backup_id]
        if not done:
            wanted = backup_id or "any completed backup"
            raise ApplicationError(
                f"{store.destination_url} ({store.server_name}) has no {wanted}; "
                "take a base backup first",
                type=BACKUP_NOT_FOUND,
                non_retryable=True,
            )
        if choice == "random" and backup_id is None:
            return random.SystemRandom().choice(done)
        return max(done, key=lambda b: b.end_time or datetime.min.replace(tzinfo=UTC))

    @activity.defn
    async def recovery_tiers(self, environment: str) -> list[RecoveryTier]:
        """The environment's recovery tiers and their RTO and RPO objectives.

        Reads the inventory; changes nothing; retrying is safe.
        """
        return list(self._inventory.environment(environment).tiers)

    @activity.defn
    async def restore_backup(
        self,
        environment: str,
        drill_id: str,
        backup_id: str,
        recovery_target_time: datetime | None = None,
        begin_wal: str | None = None,
    ) -> RestoredCopy:
        """Restore ``backup_id`` into a new data directory for an isolated copy.

        Writes the drill's folder: the data directory from barman-cloud-restore;
        beside it, the archived WAL from ``begin_wal`` (the backup's first
        segment) on, fetched while the backup restores (activities.
        wal_prefetch); then recovery settings (WAL from the archive to its
        end, or to ``recovery_target_time`` when given; promote, our port on
        loopback only, no archiving: a copy must never write into
        production's WAL prefix). Retrying is safe: a finished restore is
        found by its marker and returned; a half-finished one is wiped and
        done again. Heartbeats the bytes restored so far.
        """
        env = self._inventory.environment(environment)
        user = local_user(LocalAccess(os_user=env.drill.os_user))
        folder = drill_folder(env, drill_id)
        marker = folder / RESTORE_MARKER
        if marker.exists():
            return RestoredCopy.model_validate_json(marker.read_text())
        data_dir = folder / "pgdata"
        _fresh_folder(folder, user)
        store = env.object_store
        credentials = _write_credentials(folder, store, user)

        async def tick() -> None:
            activity.heartbeat({"restored_bytes": _size(data_dir)})

        restoring = run_command(
            [
                barman_cloud("barman-cloud-restore"),
                *store_arguments(store),
                store.destination_url,
                store.server_name,
                backup_id,
                data_dir,
            ],
            user=user,
            env={"AWS_DEFAULT_REGION": store.region_name, **credentials},
            what=f"barman-cloud-restore of {backup_id}",
            tick=tick,
        )
        # Both run to their end before a failure of either is raised, so
        # that no download outlives this attempt into the next one's folder.
        restored, fetched = await asyncio.gather(
            restoring,
            _prefetch(
                store,
                begin_wal if env.drill.prefetch_wal else None,
                folder / WAL_SPOOL,
                user,
            ),
            return_exceptions=True,
        )
        for outcome in (restored, fetched):
            if isinstance(outcome, BaseException):
                raise outcome
        low, high = env.drill.port_range
        port = free_port(env.drill.host, low, high)
        _write_recovery_settings(
            env, folder, data_dir, port, credentials, recovery_target_time
        )
        copy = RestoredCopy(
            drill_id=drill_id,
            data_dir=str(data_dir),
            host=env.drill.host,
            port=port,
            backup_id=backup_id,
            restored_bytes=_size(data_dir),
            wal_fetched_ahead=fetched if isinstance(fetched, int) else 0,
        )
        marker.write_text(copy.model_dump_json())
        return copy


async def _prefetch(
    store: ObjectStore, begin_wal: str | None, spool: Path, user: str | None
) -> int:
    """Fill the drill's WAL spool; without it, barman-cloud fetches each file.

    Returns the number of files fetched.
    """
    if begin_wal is None:
        return 0
    owner = None
    if user is not None:
        entry = pwd.getpwnam(user)
        owner = (entry.pw_uid, entry.pw_gid)
    try:
        done = await asyncio.to_thread(prefetch_wal, store, begin_wal, spool, owner)
    except (BotoCoreError, ClientError, OSError) as exc:
        activity.logger.warning(
            "WAL from %s not fetched ahead (%s): each file comes from "
            "barman-cloud-wal-restore",
            begin_wal,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return 0
    activity.logger.info(
        "WAL fetched ahead from %s: %d of %d files archived (%d bytes), "
        "%d left to barman-cloud",
        begin_wal,
        done.files,
        done.listed,
        done.bytes,
        len(done.left_to_barman),
    )
    return done.files


def completed_backups(store: ObjectStore) -> list[BackupChoice]:
    """The store's completed base backups, read from their backup.info files.

    What barman-cloud-backup-list lists, read in this process by barman's
    own parser: that command's start alone costs a drill half a second.
    Blocking (boto3). A backup without a readable backup.info is left out,
    as barman-cloud leaves it out.
    """
    s3 = s3_client(store)
    base = f"{server_prefix(store)}base/"
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=base, Delimiter="/"
    )
    done = []
    for page in pages:
        for folder in page.get("CommonPrefixes", []):
            backup_id = folder["Prefix"][len(base) :].rstrip("/")
            try:
                answer = s3.get_object(
                    Bucket=store.bucket, Key=f"{base}{backup_id}/backup.info"
                )
            except s3.exceptions.NoSuchKey:
                continue
            info = BackupInfo(backup_id)
            info.load(file_object=io.BytesIO(answer["Body"].read()))
            if info.status == BackupInfo.DONE:
                done.append(
                    BackupChoice(
                        backup_id=backup_id,
                        begin_time=info.begin_time,
                        end_time=info.end_time,
                        begin_wal=info.begin_wal,
                        end_wal=info.end_wal,
                        size_bytes=getattr(info, "cluster_size", None),
                    )
                )
    return done


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _fresh_folder(folder: Path, user: str | None) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, mode=0o700)
    _give(folder, user)


def _give(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_credentials(
    folder: Path, store: ObjectStore, user: str | None
) -> dict[str, str]:
    """Write a 0600 credentials file for restore_command; return its env vars."""
    if not (store.access_key_id and store.secret_access_key):
        return {}
    path = folder / "aws-credentials"
    path.touch(mode=0o600)
    path.write_text(
        "[default]\n"
        f"aws_access_key_id = {resolve_secret(store.access_key_id)}\n"
        f"aws_secret_access_key = {resolve_secret(store.secret_access_key)}\n"
    )
    _give(path, user)
    return {"AWS_SHARED_CREDENTIALS_FILE": str(path), "AWS_CONFIG_FILE": "/dev/null"}


def _write_recovery_settings(
    env: Environment,
    folder: Path,
    data_dir: Path,
    port: int,
    credentials: dict[str, str],
    recovery_target_time: datetime | None,
) -> None:
    store = env.object_store
    target = (
        f"recovery_target_time = '{recovery_target_time.isoformat()}'\n"
        "recovery_target_inclusive = on\n"
        if recovery_target_time
        else ""
    )
    exports = "".join(f"export {k}='{v}'\n" for k, v in credentials.items())
    script = folder / "restore-wal"
    spool = folder / WAL_SPOOL
    script.write_text(
        "#!/bin/sh\n"
        "# restore_command of an odoo-dr drill copy: WAL fetched ahead into the\n"
        "# spool; absent at once when the archive's listing lacked it; else\n"
        "# from the archive (see activities/wal_prefetch.py)\n"
        f"spool='{spool}'\n"
        'if [ -f "$spool/$1" ]; then exec cp "$spool/$1" "$2"; fi\n'
        f'if [ -f "$spool/{LISTED}" ] && ! grep -qxF "$1" "$spool/{LISTED}"; then\n'
        "  exit 1\n"
        "fi\n"
        f"export AWS_DEFAULT_REGION='{store.region_name}'\n"
        f"{exports}"
        f"exec '{barman_cloud('barman-cloud-wal-restore')}' "
        f"{' '.join(store_arguments(store))} "
        f'{store.destination_url} {store.server_name} "$1" "$2"\n'
    )
    script.chmod(0o755)
    # Until the copy is neutralized and isolated (PostgresActivities.
    # isolate_copy) it answers only on its socket in this 0700 folder: no
    # TCP client, production's Odoo included, can reach it.
    (data_dir / "pg_hba.conf").write_text(RECOVERING_HBA)
    settings = (
        "\n# odoo-dr drill copy: isolated, recovering from the archive\n"
        f"hba_file = '{data_dir / 'pg_hba.conf'}'\n"
        f"listen_addresses = '{env.drill.host}'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{folder}'\n"
        "archive_mode = off\n"
        f"restore_command = '{script} %f %p'\n"
        f"{target}"
        "recovery_target_timeline = 'latest'\n"
        "recovery_target_action = 'promote'\n"
        "primary_conninfo = ''\n"
        "primary_slot_name = ''\n"
        "cluster_name = 'odoo-dr-drill'\n"
    )
    with open(data_dir / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
        handle.write(settings)
    (data_dir / "recovery.signal").touch()
    (data_dir / "standby.signal").unlink(missing_ok=True)
    data_dir.chmod(0o700)
    for leftover in ("postmaster.pid", "postmaster.opts"):
        (data_dir / leftover).unlink(missing_ok=True)
    user_stat = folder.stat()
    for path in (
        data_dir / "recovery.signal",
        data_dir / "postgresql.auto.conf",
        data_dir / "pg_hba.conf",
    ):
        os.chown(path, user_stat.st_uid, user_stat.st_gid)
