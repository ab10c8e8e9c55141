"""Evidence reports in the sandbox's object store: moto's real S3 server.

The sandbox's bucket is versioned with Object Lock on. moto's server does
not answer GetObjectRetention (it returns the object instead of the
retention), so the retention is read from HEAD, which carries the same
mode and date.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.evidence import (
    RETENTION,
    EvidenceActivities,
    fetch_and_verify,
    read_drill_trend,
)
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.evidence import (
    EvidenceReport,
    StoredReport,
    TrendPoint,
    evidence_from_drill,
)
from odoo_dr.inventory import Inventory, ObjectStore
from odoo_dr.models import BackupChoice, DrillReport, RecoveredPoint, StepRecord
from sandbox.objectstore import s3_client
from starters.report_commands import verify_and_print
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

ENV = "sandbox"
SUFFIXES = (".json", ".html", ".md")


def _report(
    sandbox: Sandbox,
    started: datetime | None = None,
    rto: float = 1200.0,
    rpo: float = 12.0,
) -> EvidenceReport:
    """A drill's evidence, under a workflow id no other test uses."""
    started = started or datetime.now(UTC) - timedelta(minutes=30)
    drill = DrillReport(
        environment=ENV,
        workflow_id=f"restore-drill-sandbox-{uuid.uuid4().hex[:8]}",
        run_id=str(uuid.uuid4()),
        requested_by="schedule",
        reason="nightly restore drill",
        verdict="pass",
        started_at=started,
        validated_at=started + timedelta(minutes=20),
        finished_at=started + timedelta(minutes=25),
        backup=BackupChoice(
            backup_id="20261203T210000",
            begin_time=None,
            end_time=None,
            begin_wal=None,
            end_wal=None,
        ),
        recovered=RecoveredPoint(
            replay_lsn="0/5A000060",
            newest_commit=started,
            timeline=2,
            recovery_seconds=16.5,
        ),
        rto_seconds=rto,
        rpo_seconds=rpo,
        steps=[
            StepRecord(
                name="restore backup 20261203T210000",
                started_at=started,
                ended_at=started + timedelta(minutes=5),
                outcome="done",
            )
        ],
        torn_down=True,
    )
    return evidence_from_drill(drill, list(sandbox.env.tiers), None)


def _with_store(sandbox: Sandbox, **changes: Any) -> Inventory:
    store = sandbox.env.object_store.model_copy(update=changes)
    env = sandbox.env.model_copy(update={"object_store": store})
    return Inventory(environments={ENV: env})


async def _store(inventory: Inventory, report: EvidenceReport) -> StoredReport:
    activities = EvidenceActivities(inventory)
    return await ActivityEnvironment().run(activities.store_evidence, report)


def _s3(sandbox: Sandbox) -> Any:
    return s3_client(sandbox.layout, sandbox.state.ports.s3)


def _versions(sandbox: Sandbox, stored: StoredReport) -> dict[str, int]:
    listed = _s3(sandbox).list_object_versions(Bucket=stored.bucket, Prefix=stored.key)
    counts = {suffix: 0 for suffix in SUFFIXES}
    for version in listed.get("Versions", []):
        counts[version["Key"][len(stored.key) :]] += 1
    return counts


def _tamper(sandbox: Sandbox, stored: StoredReport) -> None:
    """Overwrite the JSON form as someone with write access could."""
    _s3(sandbox).put_object(
        Bucket=stored.bucket,
        Key=stored.json_key,
        Body=b'{"verdict":"pass","note":"rewritten"}',
        Metadata={"sha256": stored.sha256},
    )


@pytest.fixture
def report(sandbox: Sandbox) -> EvidenceReport:
    return _report(sandbox)


@pytest.fixture
async def stored(sandbox: Sandbox, report: EvidenceReport) -> StoredReport:
    return await _store(sandbox.inventory, report)


# --- storing -------------------------------------------------------------------


async def test_store_writes_json_html_and_markdown(
    sandbox: Sandbox, stored: StoredReport
):
    client = _s3(sandbox)
    types = {
        suffix: client.head_object(Bucket=stored.bucket, Key=stored.key + suffix)[
            "ContentType"
        ]
        for suffix in SUFFIXES
    }
    assert stored.key.startswith("evidence/sandbox/restore-drill/")
    assert types == {
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
        ".md": "text/markdown; charset=utf-8",
    }


async def test_stored_json_is_locked_in_compliance_mode(
    sandbox: Sandbox, report: EvidenceReport, stored: StoredReport
):
    assert report.ended_at is not None
    head = _s3(sandbox).head_object(Bucket=stored.bucket, Key=stored.json_key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == stored.retain_until
    # From the run's end, to the second: a retry computes the same date.
    assert stored.retain_until == (report.ended_at + RETENTION).replace(microsecond=0)


async def test_locked_version_cannot_be_deleted(sandbox: Sandbox, stored: StoredReport):
    with pytest.raises(ClientError) as refused:
        _s3(sandbox).delete_object(
            Bucket=stored.bucket, Key=stored.json_key, VersionId=stored.version_id
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


async def test_sha256_metadata_is_the_digest_of_the_stored_bytes(
    sandbox: Sandbox, stored: StoredReport
):
    fetched = _s3(sandbox).get_object(Bucket=stored.bucket, Key=stored.json_key)
    data = fetched["Body"].read()
    assert fetched["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()


async def test_report_says_moto_enforces_the_lock_only_in_part(
    sandbox: Sandbox, stored: StoredReport
):
    fetched = fetch_and_verify(sandbox.env.object_store, stored.key, stored.sha256)
    assert fetched.report is not None
    assert fetched.report.immutability == stored.object_lock
    assert "COMPLIANCE mode until" in stored.object_lock
    assert "moto's S3 server" in stored.object_lock
    assert "enforces Object Lock only in part" in stored.object_lock


async def test_storing_again_writes_no_new_version(
    sandbox: Sandbox, report: EvidenceReport
):
    first = await _store(sandbox.inventory, report)
    before = _versions(sandbox, first)
    again = await _store(sandbox.inventory, report)

    assert again == first
    assert _versions(sandbox, first) == before == {".json": 1, ".html": 1, ".md": 1}


async def test_bucket_without_object_lock_is_said_and_not_locked(sandbox: Sandbox):
    bucket = f"evidence-plain-{uuid.uuid4().hex[:8]}"
    _s3(sandbox).create_bucket(Bucket=bucket)
    stored = await _store(
        _with_store(sandbox, bucket=bucket, object_lock=False), _report(sandbox)
    )

    head = _s3(sandbox).head_object(Bucket=bucket, Key=stored.json_key)
    assert "ObjectLockMode" not in head and stored.retain_until is None
    assert stored.object_lock.startswith(f"Bucket {bucket} has no Object Lock")


async def test_inventory_expecting_a_lock_the_bucket_lacks_is_said(sandbox: Sandbox):
    bucket = f"evidence-plain-{uuid.uuid4().hex[:8]}"
    _s3(sandbox).create_bucket(Bucket=bucket)
    stored = await _store(_with_store(sandbox, bucket=bucket), _report(sandbox))
    assert "asks for Object Lock" in stored.object_lock
    assert f"bucket {bucket} has none" in stored.object_lock


async def test_missing_bucket_is_refused_for_good(sandbox: Sandbox):
    inventory = _with_store(sandbox, bucket=f"no-such-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ApplicationError) as refused:
        await _store(inventory, _report(sandbox))
    assert refused.value.non_retryable and refused.value.type == PRECONDITION_FAILED
    assert "NoSuchBucket" in refused.value.message


async def test_unreachable_store_is_retried(sandbox: Sandbox):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    inventory = _with_store(sandbox, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ApplicationError) as failed:
        await _store(inventory, _report(sandbox))
    assert not failed.value.non_retryable
    assert "unreachable" in failed.value.message


async def test_no_secret_value_reaches_the_report(
    sandbox: Sandbox, stored: StoredReport
):
    client = _s3(sandbox)
    stored_bytes = stored.model_dump_json().encode() + b"".join(
        client.get_object(Bucket=stored.bucket, Key=stored.key + suffix)["Body"].read()
        for suffix in SUFFIXES
    )
    secrets = _secret_values(sandbox.layout.secrets)
    names = {name for name, _value in secrets}
    assert {"s3-access-key-id", "s3-secret-access-key", "aws-credentials"} <= names
    leaked = [name for name, value in secrets if value.encode() in stored_bytes]
    assert leaked == []


def _secret_values(folder: Path) -> list[tuple[str, str]]:
    """Each secret file's value; for a credentials file, each key's value."""
    values = []
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for line in text.splitlines() or [""]:
            value = line.split("=", 1)[-1].split(":")[-1].strip()
            if len(value) >= 8:
                values.append((path.name, value))
    return values


# --- reading back ------------------------------------------------------------


async def test_fetched_report_matches_the_recorded_digest(
    sandbox: Sandbox, report: EvidenceReport, stored: StoredReport
):
    check = fetch_and_verify(sandbox.env.object_store, stored.key, stored.sha256)
    assert check.matches and check.version_id == stored.version_id
    assert check.report == report.model_copy(
        update={"immutability": stored.object_lock}
    )


async def test_tampered_object_fails_verification(
    sandbox: Sandbox, stored: StoredReport
):
    _tamper(sandbox, stored)
    store = sandbox.env.object_store
    current = fetch_and_verify(store, stored.key, stored.sha256)
    original = fetch_and_verify(store, stored.key, stored.sha256, stored.version_id)

    assert not current.matches and current.report is None
    assert original.matches  # the locked version the run wrote is still there


async def test_report_command_prints_the_verified_markdown(
    sandbox: Sandbox, stored: StoredReport, capsys: pytest.CaptureFixture[str]
):
    code = verify_and_print(stored, sandbox.env.object_store, "markdown", None)
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("# Restore drill of sandbox: PASS")
    assert f"verified: sha256 {stored.sha256} of s3://" in err
    assert "matches the run's history" in err


async def test_report_command_writes_the_stored_json_byte_for_byte(
    sandbox: Sandbox, stored: StoredReport, tmp_path: Path
):
    out = tmp_path / "evidence.json"
    code = verify_and_print(stored, sandbox.env.object_store, "json", out)
    assert code == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == stored.sha256


async def test_report_command_says_mismatch_after_tampering(
    sandbox: Sandbox, stored: StoredReport, capsys: pytest.CaptureFixture[str]
):
    _tamper(sandbox, stored)
    code = verify_and_print(stored, sandbox.env.object_store, "html", None)
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("odoo-dr: MISMATCH: ")
    assert f"the version {stored.version_id} the run stored still matches" in err


def test_store_without_that_report_is_an_odoo_dr_error(sandbox: Sandbox):
    from odoo_dr.errors import OdooDrError

    store: ObjectStore = sandbox.env.object_store
    with pytest.raises(OdooDrError, match="no evidence at s3://"):
        fetch_and_verify(store, "evidence/sandbox/none/2026/12/x/y", "0" * 64)


# --- the trend of past drills --------------------------------------------------


@pytest.fixture
async def drills(sandbox: Sandbox) -> tuple[Inventory, list[EvidenceReport]]:
    """Three drills' evidence in a bucket of their own, stored out of order.

    They started a month or more apart, so each is filed under its own month.
    """
    bucket = f"evidence-trend-{uuid.uuid4().hex[:8]}"
    _s3(sandbox).create_bucket(Bucket=bucket)
    inventory = _with_store(sandbox, bucket=bucket, object_lock=False)
    now = datetime.now(UTC)
    reports = [
        _report(sandbox, now - timedelta(days=days), rto=rto, rpo=rpo)
        for days, rto, rpo in (
            (70, 1100.0, 11.0),
            (35, 1200.0, 12.0),
            (1, 1300.0, 13.0),
        )
    ]
    for report in (reports[1], reports[2], reports[0]):
        await _store(inventory, report)
    return inventory, reports


async def _trend(inventory: Inventory, *limit: int) -> list[TrendPoint]:
    activities = EvidenceActivities(inventory)
    return await ActivityEnvironment().run(activities.drill_trend, ENV, *limit)


async def test_drill_trend_returns_stored_drills_oldest_first(
    drills: tuple[Inventory, list[EvidenceReport]],
):
    inventory, reports = drills
    points = await _trend(inventory)
    assert [p.run_id for p in points] == [r.run_id for r in reports]
    assert [(p.rto_seconds, p.rpo_seconds) for p in points] == [
        (1100.0, 11.0),
        (1200.0, 12.0),
        (1300.0, 13.0),
    ]
    assert {p.verdict for p in points} == {"pass"}


async def test_drill_trend_reads_only_the_newest(
    drills: tuple[Inventory, list[EvidenceReport]],
):
    inventory, reports = drills
    points = await _trend(inventory, 2)
    assert [p.run_id for p in points] == [r.run_id for r in reports[1:]]


async def test_drill_trend_follows_the_listing_page_by_page(
    drills: tuple[Inventory, list[EvidenceReport]],
):
    inventory, reports = drills
    store = inventory.environment(ENV).object_store
    points, skipped = read_drill_trend(store, ENV, 30, page_size=1)
    assert [p.run_id for p in points] == [r.run_id for r in reports]
    assert skipped == []


async def test_drill_trend_skips_a_corrupted_object_with_a_warning(
    sandbox: Sandbox,
    drills: tuple[Inventory, list[EvidenceReport]],
    caplog: pytest.LogCaptureFixture,
):
    inventory, reports = drills
    bucket = inventory.environment(ENV).object_store.bucket
    key = f"evidence/{ENV}/restore-drill/{datetime.now(UTC):%Y/%m}/broken/run.json"
    _s3(sandbox).put_object(Bucket=bucket, Key=key, Body=b'{"verdict": "pa')

    with caplog.at_level(logging.WARNING):
        points = await _trend(inventory)

    assert [p.run_id for p in points] == [r.run_id for r in reports]
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and f"s3://{bucket}/{key}" in warned[0]
    assert "not an evidence report" in warned[0]


async def test_drill_trend_of_an_environment_without_drills_is_empty(
    sandbox: Sandbox,
):
    bucket = f"evidence-trend-{uuid.uuid4().hex[:8]}"
    _s3(sandbox).create_bucket(Bucket=bucket)
    assert await _trend(_with_store(sandbox, bucket=bucket)) == []


async def test_drill_trend_of_a_missing_bucket_is_refused_for_good(sandbox: Sandbox):
    inventory = _with_store(sandbox, bucket=f"no-such-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ApplicationError) as refused:
        await _trend(inventory)
    assert refused.value.non_retryable and refused.value.type == PRECONDITION_FAILED
    assert "refused reading evidence" in refused.value.message
