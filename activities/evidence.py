"""Evidence reports in the environment's object store: stored, fetched, checked.

A report becomes three objects under one key (:func:`report_key`): the
canonical JSON, whose SHA-256 the run's history records, then the HTML and
Markdown pages rendered from it. When the bucket has S3 Object Lock and the
inventory asks for it (``object_store.object_lock``), each object is written
with a retention in :data:`LOCK_MODE` until :data:`RETENTION` after the run
ended. The report itself says how its stored copy is protected, including
when it is not, and when the store is not AWS S3.

The report's retention date comes from the run's end, not from the clock:
a retry then builds the same bytes, finds them stored, and writes nothing.

Restore drills also read the reports back: :meth:`EvidenceActivities.drill_trend`
gives the RTO and RPO of the environment's past drills for the trend chart
of the next report.

The worker's credentials need s3:GetBucketObjectLockConfiguration,
s3:PutObject, s3:PutObjectRetention, s3:GetObject and s3:ListBucket; without
the last one S3 answers a key that does not exist yet with 403, not 404.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.chat import run_url
from activities.object_store import s3_client
from odoo_dr.errors import PRECONDITION_FAILED, OdooDrError
from odoo_dr.evidence import (
    EvidenceReport,
    StoredReport,
    TrendPoint,
    canonical_json,
    evidence_prefix,
    moment,
    report_key,
    sha256_hex,
    trend_order,
    trend_point,
)
from odoo_dr.evidence_render import render_html, render_markdown
from odoo_dr.inventory import Inventory, ObjectStore

# COMPLIANCE rather than GOVERNANCE: a governance lock gives way to anyone
# granted s3:BypassGovernanceRetention, and evidence exists to be believed by
# someone who need not trust the operators. The price is that a stored report
# cannot be removed before its date even by mistake: a few kilobytes a run.
LOCK_MODE = "COMPLIANCE"
# A yearly audit cycle, with a month's margin for the audit to take place.
RETENTION = timedelta(days=400)

# Answers no retry mends: the bucket is wrong or the credentials are refused.
# A HEAD answer has no body, so its refusal comes as the bare status "403".
_REFUSED = {
    "403",
    "NoSuchBucket",
    "InvalidBucketName",
    "AccessDenied",
    "AllAccessDisabled",
    "AccountProblem",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
}
_MISSING = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
# Keys asked for in one listing request; S3 answers at most 1,000.
_LIST_PAGE = 1000
# The pages written beside the JSON, before it.
_PAGES: tuple[tuple[str, str, Callable[[EvidenceReport], str]], ...] = (
    ("html", "text/html; charset=utf-8", render_html),
    ("md", "text/markdown; charset=utf-8", render_markdown),
)


class EvidenceActivities:
    """Writing runbooks' evidence reports to the object store."""

    def __init__(self, inventory: Inventory, *, temporal_ui: str | None = None) -> None:
        """Bind the activities to the inventory the worker loaded.

        ``temporal_ui`` (default ``ODOO_DR_TEMPORAL_UI``) is the web UI's base
        address, for the report's link to its run.
        """
        self._inventory = inventory
        self._temporal_ui = temporal_ui or os.environ.get("ODOO_DR_TEMPORAL_UI")

    @activity.defn
    async def store_evidence(self, report: EvidenceReport) -> StoredReport:
        """Store ``report`` as JSON, HTML and Markdown in the environment's bucket.

        Adds three objects under the report's key (new versions, in a
        versioned bucket), locked when the bucket and the inventory allow.
        Retrying is safe: when the JSON is already there with the same
        SHA-256, nothing is written and the same answer comes back; the JSON
        is written last, so its presence means all three are. Network
        faults and server errors retry. Gives up (non-retryable) when the
        bucket does not exist or the credentials are refused; an unknown
        environment or an unresolvable secret is refused by the worker's
        interceptor.
        """
        store = self._inventory.environment(report.environment).object_store
        if report.ui_url is None and self._temporal_ui:
            info = activity.info()
            link = run_url(
                self._temporal_ui, info.namespace, report.workflow_id, report.run_id
            )
            report = report.model_copy(update={"ui_url": link})
        stored, written = await asyncio.to_thread(store_report, store, report)
        activity.logger.info(
            "evidence of %s %s %s s3://%s/%s (sha256 %s)",
            report.runbook,
            report.workflow_id,
            "stored at" if written else "already at",
            stored.bucket,
            stored.json_key,
            stored.sha256,
        )
        return stored

    @activity.defn
    async def drill_trend(self, environment: str, limit: int = 30) -> list[TrendPoint]:
        """The RTO and RPO of the environment's newest stored drills, oldest first.

        Lists the restore drills' evidence of ``environment`` in its bucket,
        reads the JSON form of the newest ``limit`` (0 reads none) and
        returns one point each. Changes nothing, so retrying is safe. An
        object that is not an evidence report of a drill of the environment
        is left out with a warning. Network faults and server errors retry;
        gives up (non-retryable) when the bucket does not exist or the
        credentials are refused; an unknown environment is refused by the
        worker's interceptor.
        """
        store = self._inventory.environment(environment).object_store
        points, skipped = await asyncio.to_thread(
            read_drill_trend, store, environment, limit
        )
        for key, reason in skipped:
            activity.logger.warning(
                "evidence s3://%s/%s left out of the drill trend: %s",
                store.bucket,
                key,
                reason,
            )
        activity.logger.info(
            "drill trend of %s: %d drills read from bucket %s",
            environment,
            len(points),
            store.bucket,
        )
        return points


def read_drill_trend(
    store: ObjectStore, environment: str, limit: int, page_size: int = _LIST_PAGE
) -> tuple[list[TrendPoint], list[tuple[str, str]]]:
    """The points of the newest ``limit`` drills, and the keys left out with why.

    Newest is by the month in the key, then by when the object was written,
    then by key; the points come back in the order the drills started.

    Raises:
        ApplicationError: the bucket is missing or the credentials are
            refused (non-retryable), or the store failed (retryable).
    """
    client = s3_client(store)
    points: list[TrendPoint] = []
    skipped: list[tuple[str, str]] = []
    try:
        keys = _newest_drills(client, store.bucket, environment, limit, page_size)
        for key in keys:
            found = _trend_point(client, store.bucket, key, environment)
            if isinstance(found, TrendPoint):
                points.append(found)
            else:
                skipped.append((key, found))
    except (ClientError, BotoCoreError) as exc:
        raise _store_error(exc, store, "reading evidence") from None
    return trend_order(points), skipped


def _newest_drills(
    client: Any, bucket: str, environment: str, limit: int, page_size: int
) -> list[str]:
    """The JSON keys of the newest ``limit`` drill reports, oldest first."""
    if limit < 1:
        return []
    prefix = evidence_prefix(environment, "restore-drill")
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    listed = [
        item
        for page in pages
        for item in page.get("Contents", [])
        if item["Key"].endswith(".json")
    ]

    def newness(item: dict[str, Any]) -> tuple[str, datetime, str]:
        month = "/".join(item["Key"][len(prefix) :].split("/")[:2])
        return month, item["LastModified"], item["Key"]

    listed.sort(key=newness)
    return [item["Key"] for item in listed[-limit:]]


def _trend_point(
    client: Any, bucket: str, key: str, environment: str
) -> TrendPoint | str:
    """The drill's point, or why the object under ``key`` gives none."""
    try:
        data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return "deleted between listing and reading"
        raise
    try:
        report = EvidenceReport.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        return f"not an evidence report this version reads ({where}: {first['msg']})"
    if report.runbook != "restore-drill" or report.environment != environment:
        return f"the report of a {report.runbook} of {report.environment}"
    return trend_point(report)


def store_report(
    store: ObjectStore, report: EvidenceReport
) -> tuple[StoredReport, bool]:
    """Write the report's three forms unless the JSON is already there.

    Returns where it is stored and whether anything was written.

    Raises:
        ApplicationError: the bucket is missing or the credentials are
            refused (non-retryable), or the store failed (retryable).
    """
    client = s3_client(store)
    try:
        final, stored = _protected(client, store, report)
        existing = _head(client, store.bucket, stored.json_key)
        if existing is not None and existing["Metadata"].get("sha256") == stored.sha256:
            found = existing.get("VersionId")
            return stored.model_copy(update={"version_id": found}), False
        for suffix, content_type, render in _PAGES:
            body = render(final).encode("utf-8")
            _put(client, stored, f"{stored.key}.{suffix}", body, content_type)
        data = canonical_json(final)
        version = _put(client, stored, stored.json_key, data, "application/json")
    except (ClientError, BotoCoreError) as exc:
        raise _store_error(exc, store, "evidence") from None
    return stored.model_copy(update={"version_id": version}), True


def _protected(
    client: Any, store: ObjectStore, report: EvidenceReport
) -> tuple[EvidenceReport, StoredReport]:
    """The report with its protection sentence, and where it goes."""
    locked_bucket, server = _bucket_lock(client, store.bucket)
    retain_until = None
    if locked_bucket and store.object_lock:
        retain_until = _retain_until(report)
    sentence = immutability(store, locked_bucket, retain_until, server)
    final = report.model_copy(update={"immutability": sentence})
    key = report_key(
        final.environment,
        final.runbook,
        final.workflow_id,
        final.run_id,
        final.started_at,
    )
    stored = StoredReport(
        bucket=store.bucket,
        key=key,
        sha256=sha256_hex(canonical_json(final)),
        retain_until=retain_until,
        object_lock=sentence,
    )
    return final, stored


def immutability(
    store: ObjectStore,
    locked_bucket: bool,
    retain_until: datetime | None,
    server: str = "",
) -> str:
    """The plain sentence saying how the stored copy is protected."""
    bucket = store.bucket
    unprotected = (
        "this report is stored without a retention and can be overwritten or "
        "deleted by anyone allowed to write to the bucket; only the SHA-256 "
        "recorded in the run's history shows whether the stored copy changed."
    )
    if retain_until is None and locked_bucket:
        return (
            f"Bucket {bucket} has Object Lock, but the inventory does not ask "
            f"for it (object_store.object_lock is false): {unprotected}"
        )
    if retain_until is None and store.object_lock:
        return (
            "The inventory asks for Object Lock (object_store.object_lock), but "
            f"bucket {bucket} has none: {unprotected} Object Lock can only be "
            "turned on for a versioned bucket."
        )
    if retain_until is None:
        return f"Bucket {bucket} has no Object Lock: {unprotected}"
    sentence = (
        f"Each form of this report is stored in bucket {bucket} under S3 Object "
        f"Lock in {LOCK_MODE} mode until {moment(retain_until)}: until then no "
        "one, the account's root user included, can delete the stored version "
        "or shorten its retention. A later write under the same key adds a new "
        "version and leaves this one as it is."
    )
    return sentence + _server_caveat(store, server)


def _server_caveat(store: ObjectStore, server: str) -> str:
    if not store.endpoint_url:
        return ""
    # moto's server is a Werkzeug application and says so in its Server
    # header; MinIO answers "MinIO", AWS "AmazonS3".
    if "werkzeug" in server.lower():
        return (
            f" The store at {_where(store)} is moto's S3 server, a stand-in for "
            "tests and demonstrations that enforces Object Lock only in part (it "
            "lets a retention be shortened and locks nothing uploaded in parts): "
            "this copy shows how a report is locked, not that it is."
        )
    return (
        f" The store at {_where(store)} is not AWS S3: whether the lock holds "
        "depends on that server."
    )


def _where(store: ObjectStore) -> str:
    """The store's host and port, without any user information in the URL."""
    if not store.endpoint_url:
        return f"AWS S3 ({store.region_name})"
    parts = urlsplit(store.endpoint_url)
    host = parts.hostname or "the configured endpoint"
    return f"{host}:{parts.port}" if parts.port else host


def _retain_until(report: EvidenceReport) -> datetime:
    ended = report.ended_at or report.started_at
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=UTC)
    # S3 keeps the date to the second; a finer one would differ when read back.
    return (ended.astimezone(UTC) + RETENTION).replace(microsecond=0)


def _bucket_lock(client: Any, bucket: str) -> tuple[bool, str]:
    """Whether the bucket has Object Lock on, and what server answered."""
    try:
        answer = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) == "ObjectLockConfigurationNotFoundError":
            return False, _server(exc.response)
        raise
    configuration = answer.get("ObjectLockConfiguration", {})
    return configuration.get("ObjectLockEnabled") == "Enabled", _server(answer)


def _head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return None
        raise
    return answer


def _put(
    client: Any, stored: StoredReport, key: str, body: bytes, content_type: str
) -> str | None:
    """Write one object; return its version id, if the bucket keeps versions."""
    metadata = {"sha256": sha256_hex(body)}
    if key != stored.json_key:
        metadata["json-sha256"] = stored.sha256
    lock: dict[str, Any] = {}
    if stored.retain_until is not None:
        lock = {
            "ObjectLockMode": LOCK_MODE,
            "ObjectLockRetainUntilDate": stored.retain_until,
        }
    answer = client.put_object(
        Bucket=stored.bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        ChecksumAlgorithm="SHA256",
        Metadata=metadata,
        **lock,
    )
    version: str | None = answer.get("VersionId")
    return version


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _server(answer: dict[str, Any]) -> str:
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return str(headers.get("server", ""))


def _store_error(
    exc: ClientError | BotoCoreError, store: ObjectStore, what: str
) -> ApplicationError:
    """A refusal gives up (non-retryable); an unreachable store is retried."""
    if isinstance(exc, BotoCoreError):
        return ApplicationError(
            f"object store {_where(store)} unreachable: {type(exc).__name__}"
        )
    code = _code(exc)
    message = (
        f"object store {_where(store)} refused {what} in bucket {store.bucket}: {code}"
    )
    if code in _REFUSED:
        return ApplicationError(
            message + "; check object_store.bucket and its credentials",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    return ApplicationError(message)


# --- reading a report back ---------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """A stored report fetched and held against the digest a run recorded."""

    bucket: str
    key: str
    version_id: str | None
    sha256: str
    expected: str
    data: bytes
    report: EvidenceReport | None  # read only when the digests match

    @property
    def matches(self) -> bool:
        """Whether the fetched bytes are the ones the run stored."""
        return self.sha256 == self.expected


def fetch_and_verify(
    store: ObjectStore,
    key: str,
    expected_sha256: str,
    version_id: str | None = None,
) -> Verification:
    """Fetch the JSON form under ``key`` and compare its SHA-256 with the run's.

    ``key`` is the report's key without suffix. Without ``version_id`` the
    current object is read, which is what anyone reading the key gets.

    Raises:
        OdooDrError: nothing is stored there, the store refuses or cannot be
            reached, or matching bytes are not an evidence report.
    """
    json_key = key + ".json"
    where = f"s3://{store.bucket}/{json_key}"
    try:
        answer = s3_client(store).get_object(
            Bucket=store.bucket,
            Key=json_key,
            **({"VersionId": version_id} if version_id else {}),
        )
        data: bytes = answer["Body"].read()
    except ClientError as exc:
        code = _code(exc)
        if code in _MISSING:
            raise OdooDrError(f"no evidence at {where}: {code}") from None
        raise OdooDrError(f"the object store refused to read {where}: {code}") from None
    except BotoCoreError as exc:
        raise OdooDrError(
            f"cannot reach the object store {_where(store)}: {type(exc).__name__}"
        ) from None
    digest = sha256_hex(data)
    report = None
    if digest == expected_sha256:
        try:
            report = EvidenceReport.model_validate_json(data)
        except ValueError:
            raise OdooDrError(
                f"{where} matches the run's SHA-256 but is not an odoo-dr "
                "evidence report this version can read"
            ) from None
    return Verification(
        bucket=store.bucket,
        key=json_key,
        version_id=answer.get("VersionId"),
        sha256=digest,
        expected=expected_sha256,
        data=data,
        report=report,
    )
