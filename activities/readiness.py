"""Readiness checks: the facts behind an environment's recovery objectives.

Gathers what the judges of :mod:`odoo_dr.readiness` need: the newest base
backup (barman-cloud's list), the WAL objects of the archive and the
bucket's Object Lock (boto3), and the serving primary's archiver
statistics (``pg_stat_archiver``). Every read is cheap and changes
nothing, so the checks can run often. A source that does not answer fails
the checks that need it and leaves the others standing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError
from opentelemetry.metrics import Meter
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backups import BackupActivities
from activities.object_store import s3_client, server_prefix
from activities.postgres import node_conninfo, serving_node
from odoo_dr.errors import BACKUP_NOT_FOUND
from odoo_dr.inventory import Environment, Inventory, ObjectStore
from odoo_dr.models import BackupChoice
from odoo_dr.readiness import (
    ARCHIVE_LAG,
    BACKUP_AGE,
    MAX_BACKUP_AGE,
    OBJECT_LOCK,
    WAL_CONTINUITY,
    ArchiverStatus,
    ObjectLockFacts,
    ReadinessCheck,
    ReadinessReport,
    build_report,
    history_timeline_of,
    judge_archive_lag,
    judge_backup_age,
    judge_object_lock,
    judge_wal_continuity,
    segment_of,
    unreadable,
)

# pg_current_wal_lsn() refuses during recovery: a standby yields no position.
ARCHIVER_FACTS = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END,
       CASE WHEN NOT pg_is_in_recovery()
            THEN pg_walfile_name(pg_current_wal_lsn()) END,
       last_archived_wal, last_archived_time, failed_count,
       last_failed_wal, last_failed_time
  FROM pg_stat_archiver
"""


@dataclass(frozen=True)
class _Unread:
    """A source that did not answer, and what it said."""

    source: str
    error: str


@dataclass
class _WalListing:
    segments: list[str] = field(default_factory=list)
    histories: set[int] = field(default_factory=set)


class ReadinessActivities:
    """Cheap, frequent checks that the recovery objectives can still be met."""

    def __init__(self, inventory: Inventory, meter: Meter | None = None) -> None:
        """Bind the activities to the inventory the worker loaded.

        With ``meter``, every check also records the gauges
        ``odoo_dr.readiness.ok`` (1 or 0) and ``odoo_dr.readiness.figure``
        (its numbers: backup age, archive lag, missing segments...), labelled
        by environment and check.
        """
        self._inventory = inventory
        self._gauges = (
            (
                meter.create_gauge(
                    "odoo_dr.readiness.ok", description="1 when the check passes"
                ),
                meter.create_gauge(
                    "odoo_dr.readiness.figure", description="a figure of a check"
                ),
            )
            if meter is not None
            else None
        )

    @activity.defn
    async def check_readiness(
        self, environment: str, newest: BackupChoice | None = None
    ) -> ReadinessReport:
        """Judge whether ``environment``'s backups and WAL can meet its tiers.

        ``newest`` is the newest base backup when the caller has just listed
        them (a drill of the newest backup); else they are listed here.
        Changes nothing: it lists objects, reads one object's metadata and
        the primary's statistics. Retrying is safe. A primary or store that
        does not answer fails the checks that need it, not the activity. An
        unknown environment or a secret that does not resolve gives up
        (non-retryable, through the worker's interceptor).
        """
        report = await check_environment(self._inventory, environment, newest=newest)
        self._record(report)
        return report

    def _record(self, report: ReadinessReport) -> None:
        """Each check's outcome (1 ok, 0 failed) and its figures, as gauges."""
        if self._gauges is None:
            return
        ok, figure = self._gauges
        for check in report.checks:
            labels = {"environment": report.environment, "check": check.name}
            ok.set(1 if check.ok else 0, labels)
            for name, value in check.figures.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    figure.set(value, {**labels, "figure": name})


async def check_environment(
    inventory: Inventory,
    environment: str,
    *,
    max_backup_age: timedelta = MAX_BACKUP_AGE,
    newest: BackupChoice | None = None,
) -> ReadinessReport:
    """Gather the facts of ``environment`` and judge them; see the activity.

    The command line calls this directly, without a worker.

    Raises:
        UnknownEnvironmentError: the inventory has no such environment.
        SecretError: a credential reference does not resolve.
    """
    env = inventory.environment(environment)
    store = env.object_store

    # The primary is asked before the store is listed, so that every segment
    # it reports archived must be in the listing.
    archiver, backup = await asyncio.gather(
        _read_archiver(env), _newest_backup(inventory, env, newest)
    )
    s3 = s3_client(store)
    begin_wal = backup.begin_wal if isinstance(backup, BackupChoice) else None
    wals, lock = await asyncio.gather(
        asyncio.to_thread(_list_wal, s3, store, begin_wal),
        asyncio.to_thread(_read_lock, s3, store, backup),
    )

    now = datetime.now(UTC)
    report = build_report(
        env.name,
        now,
        [
            _backup_check(env, backup, now, max_backup_age),
            _continuity_check(env, backup, wals, archiver),
            _archive_check(env, archiver, wals, now),
            _lock_check(env, lock, now),
        ],
    )
    activity.logger.info(
        "readiness of %s: %s; failed checks: %s",
        env.name,
        "ready" if report.ready else "not ready",
        ", ".join(c.name for c in report.failed()) or "none",
    )
    return report


async def _newest_backup(
    inventory: Inventory, env: Environment, known: BackupChoice | None
) -> BackupChoice | None | _Unread:
    if known is not None:
        return known
    try:
        return await BackupActivities(inventory).select_backup(env.name, None)
    except ApplicationError as exc:
        if exc.type == BACKUP_NOT_FOUND:
            return None
        raise
    except (BotoCoreError, ClientError) as exc:
        return _Unread(
            f"the base backups in {env.object_store.destination_url}",
            _first_line(exc),
        )


async def _read_archiver(env: Environment) -> ArchiverStatus | _Unread:
    node = await asyncio.to_thread(serving_node, env)
    source = f"pg_stat_archiver on {node.name}"
    try:
        async with await psycopg.AsyncConnection.connect(
            node_conninfo(node, "postgres"), autocommit=True
        ) as conn:
            row = await (await conn.execute(ARCHIVER_FACTS)).fetchone()
    except psycopg.Error as exc:
        return _Unread(source, _first_line(exc))
    assert row is not None
    in_recovery, lsn, current, wal, archived_at, failures, failed_wal, failed_at = row
    if in_recovery:
        return _Unread(source, f"no node answers as primary; {node.name} is a standby")
    return ArchiverStatus(
        node=node.name,
        current_lsn=lsn,
        timeline=int(current[:8], 16),
        last_archived_wal=wal,
        last_archived_time=archived_at,
        failed_count=failures,
        last_failed_wal=failed_wal,
        last_failed_time=failed_at,
    )


def _list_wal(
    s3: Any, store: ObjectStore, begin_wal: str | None
) -> _WalListing | _Unread:
    """The archived segments and history files, from the backup's log on.

    Objects sort by name, and segments live in one folder per timeline and
    log: listing starts at the backup's folder, so years of older WAL are
    not listed. History files of higher timelines sort after it too.
    """
    prefix = f"{server_prefix(store)}wals/"
    where: dict[str, str] = {"Bucket": store.bucket, "Prefix": prefix}
    if begin_wal:
        where["StartAfter"] = prefix + begin_wal[:16]
    listing = _WalListing()
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(**where):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                segment = segment_of(name)
                timeline = history_timeline_of(name)
                if segment is not None:
                    listing.segments.append(segment)
                elif timeline is not None:
                    listing.histories.add(timeline)
    except (BotoCoreError, ClientError) as exc:
        return _Unread(f"the WAL archive {store.destination_url}", _first_line(exc))
    return listing


def _read_lock(
    s3: Any, store: ObjectStore, backup: BackupChoice | None | _Unread
) -> ObjectLockFacts | _Unread:
    """The bucket's Object Lock rule, and the newest backup.info's retention."""
    try:
        try:
            config = s3.get_object_lock_configuration(Bucket=store.bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ObjectLockConfigurationNotFoundError":
                raise
            config = {}
        settings = config.get("ObjectLockConfiguration", {})
        rule = settings.get("Rule", {}).get("DefaultRetention", {})
        facts = ObjectLockFacts(
            bucket=store.bucket,
            enabled=settings.get("ObjectLockEnabled") == "Enabled",
            default_mode=rule.get("Mode"),
            default_days=rule.get("Days"),
            default_years=rule.get("Years"),
        )
        if not (facts.enabled and isinstance(backup, BackupChoice)):
            return facts
        key = f"{server_prefix(store)}base/{backup.backup_id}/backup.info"
        # The lock headers show only to those allowed s3:GetObjectRetention.
        head = s3.head_object(Bucket=store.bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        return _Unread(f"the Object Lock of bucket {store.bucket}", _first_line(exc))
    return facts.model_copy(
        update={
            "backup_key": key,
            "retention_mode": head.get("ObjectLockMode"),
            "retain_until": head.get("ObjectLockRetainUntilDate"),
            "legal_hold": head.get("ObjectLockLegalHoldStatus") == "ON",
        }
    )


def _backup_check(
    env: Environment,
    backup: BackupChoice | None | _Unread,
    now: datetime,
    max_age: timedelta,
) -> ReadinessCheck:
    if isinstance(backup, _Unread):
        return _unreadable(BACKUP_AGE, backup, env)
    return judge_backup_age(
        backup.end_time if backup else None,
        now,
        env.tiers,
        max_age,
        backup_id=backup.backup_id if backup else None,
    )


def _continuity_check(
    env: Environment,
    backup: BackupChoice | None | _Unread,
    wals: _WalListing | _Unread,
    archiver: ArchiverStatus | _Unread,
) -> ReadinessCheck:
    for unread in (backup, wals):
        if isinstance(unread, _Unread):
            return _unreadable(WAL_CONTINUITY, unread, env)
    assert isinstance(wals, _WalListing) and not isinstance(backup, _Unread)
    # What the primary reports archived must be in the store as well.
    known = list(wals.segments)
    if isinstance(archiver, ArchiverStatus) and archiver.last_archived_wal:
        reported = segment_of(archiver.last_archived_wal)
        known += [reported] if reported else []
    return judge_wal_continuity(
        backup.begin_wal if backup else None,
        wals.segments,
        wals.histories,
        max(known, default=None),
        tiers=env.tiers,
    )


def _archive_check(
    env: Environment,
    archiver: ArchiverStatus | _Unread,
    wals: _WalListing | _Unread,
    now: datetime,
) -> ReadinessCheck:
    if isinstance(archiver, _Unread):
        return _unreadable(ARCHIVE_LAG, archiver, env)
    # The store, listed after the primary was asked, says best how far the
    # archive reaches on the primary's timeline.
    archived = None
    if isinstance(wals, _WalListing):
        own = [s for s in wals.segments if int(s[:8], 16) == archiver.timeline]
        archived = max(own, default=None)
    return judge_archive_lag(archiver, now, env.tiers, archived)


def _lock_check(
    env: Environment, lock: ObjectLockFacts | _Unread, now: datetime
) -> ReadinessCheck:
    store = env.object_store
    if isinstance(lock, _Unread):
        return unreadable(
            OBJECT_LOCK, lock.source, lock.error, required=store.object_lock
        )
    return judge_object_lock(store.object_lock, lock, now, store.endpoint_url)


def _unreadable(name: str, unread: _Unread, env: Environment) -> ReadinessCheck:
    return unreadable(name, unread.source, unread.error, env.tiers)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
