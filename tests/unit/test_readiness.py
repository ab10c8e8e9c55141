from datetime import UTC, datetime, timedelta

import pytest

from odoo_dr.inventory import RecoveryTier
from odoo_dr.readiness import (
    ArchiverStatus,
    ObjectLockFacts,
    build_report,
    history_timeline_of,
    judge_archive_lag,
    judge_backup_age,
    judge_object_lock,
    judge_wal_continuity,
    segment_of,
    span,
    unreadable,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TIERS = [
    RecoveryTier(name="payroll", rto=timedelta(hours=1), rpo=timedelta(minutes=5)),
    RecoveryTier(name="reporting", rto=timedelta(hours=24), rpo=timedelta(hours=24)),
]


def names(timeline: int, log: int, first: int, last: int) -> list[str]:
    return [f"{timeline:08X}{log:08X}{seg:08X}" for seg in range(first, last + 1)]


# WAL continuity


def test_continuous_sequence_passes():
    segments = names(1, 0, 5, 9)
    check = judge_wal_continuity(segments[0], segments, set())
    assert check.ok
    assert "all 5 segments from 000000010000000000000005" in check.detail
    assert check.figures["missing_segments"] == 0


def test_backup_with_a_single_segment_since_passes():
    check = judge_wal_continuity(
        "000000010000000000000005", ["000000010000000000000005"], set()
    )
    assert check.ok
    assert "segment 000000010000000000000005, the only one" in check.detail


def test_missing_segment_in_the_middle_is_named():
    segments = names(1, 0, 5, 9)
    del segments[2]
    check = judge_wal_continuity(segments[0], segments, set(), tiers=TIERS)
    assert not check.ok
    assert "1 of 5 segments" in check.detail
    assert "000000010000000000000007" in check.detail
    assert check.threatens[0].startswith("tier payroll: RPO 5 min cannot be met")
    assert "stops before 000000010000000000000007" in check.threatens[0]


def test_sequence_crosses_from_segment_ff_into_the_next_log():
    segments = names(1, 0, 0xFD, 0xFF) + names(1, 1, 0, 2)
    check = judge_wal_continuity(segments[0], segments, set())
    assert check.ok, check.detail
    assert check.figures["expected_segments"] == 6


def test_first_segment_of_the_next_log_missing_is_named():
    segments = names(1, 0, 0xFE, 0xFF) + names(1, 1, 1, 2)
    check = judge_wal_continuity(segments[0], segments, set())
    assert not check.ok
    assert "000000010000000100000000" in check.detail


def test_timeline_switch_with_history_file_continues_on_the_new_timeline():
    # Promotion in segment 8: timeline 1 ends there (its .partial is not a
    # segment), timeline 2 starts with segment 8.
    segments = names(1, 0, 5, 7) + names(2, 0, 8, 10)
    check = judge_wal_continuity(segments[0], segments, {2})
    assert check.ok, check.detail
    assert "crossing from timeline 1 to 2" in check.detail
    assert check.figures["newest_segment"] == "00000002000000000000000A"


def test_timeline_switch_without_history_file_breaks_the_sequence():
    segments = names(1, 0, 5, 7) + names(2, 0, 8, 10)
    check = judge_wal_continuity(segments[0], segments, set())
    assert not check.ok
    assert "00000002.history" in check.detail


def test_segments_of_the_old_timeline_after_the_switch_do_not_count():
    # The old primary kept writing on timeline 1 after timeline 2 began;
    # timeline 2 lacks segment 9, and timeline 1's segment 9 cannot replace it.
    segments = names(1, 0, 5, 10) + ["000000020000000000000008"]
    segments += ["00000002000000000000000A"]
    check = judge_wal_continuity(segments[0], segments, {2})
    assert not check.ok
    assert "000000020000000000000009" in check.detail


def test_segment_the_primary_reports_archived_must_be_in_the_store():
    segments = names(1, 0, 5, 7)
    check = judge_wal_continuity(
        segments[0], segments, set(), newest="000000010000000000000008"
    )
    assert not check.ok
    assert "000000010000000000000008" in check.detail


def test_backup_whose_first_segment_is_not_archived_fails():
    check = judge_wal_continuity("000000010000000000000005", [], set())
    assert not check.ok
    assert "000000010000000000000005" in check.detail


def test_at_most_ten_missing_segments_are_named():
    segments = ["000000010000000000000001", "000000010000000000000020"]
    check = judge_wal_continuity(segments[0], segments, set())
    assert check.figures["missing_segments"] == 30
    assert "000000010000000000000002" in check.detail
    assert "00000001000000000000000B" in check.detail
    assert "00000001000000000000000C" not in check.detail
    assert check.detail.endswith(", ...")


def test_continuity_without_a_backup_fails():
    check = judge_wal_continuity(None, names(1, 0, 1, 3), set(), tiers=TIERS)
    assert not check.ok and "no base backup" in check.detail
    assert len(check.threatens) == 2


def test_segment_name_that_is_no_16_mib_segment_is_refused():
    with pytest.raises(ValueError, match="16 MiB"):
        judge_wal_continuity("000000010000000000000100", [], set())


# Base backup age


def test_recent_backup_passes():
    check = judge_backup_age(NOW - timedelta(hours=3), NOW, TIERS, backup_id="b1")
    assert check.ok
    assert "newest base backup b1 ended 3 h ago" in check.detail
    assert "limit 26 h" in check.detail


def test_backup_older_than_the_limit_threatens_the_rto():
    check = judge_backup_age(NOW - timedelta(hours=30), NOW, TIERS)
    assert not check.ok
    assert "replay time grows" in check.detail and "RTO" in check.detail
    assert check.threatens[0] == (
        "tier payroll: RTO 1 h at risk: a restore replays 30 h of WAL on top "
        "of the newest base backup"
    )


def test_limit_can_be_set_by_the_caller():
    check = judge_backup_age(NOW - timedelta(hours=3), NOW, TIERS, timedelta(hours=2))
    assert not check.ok and "limit 2 h" in check.detail


def test_no_backup_at_all_fails_every_tier():
    check = judge_backup_age(None, NOW, TIERS)
    assert not check.ok
    assert "no completed base backup" in check.detail
    assert [s.split(":")[0] for s in check.threatens] == [
        "tier payroll",
        "tier reporting",
    ]


# Archive lag


def archiver(**facts: object) -> ArchiverStatus:
    base: dict[str, object] = {
        "node": "pg-a",
        "current_lsn": "0/9000100",
        "last_archived_wal": "000000010000000000000008",
        "last_archived_time": NOW - timedelta(minutes=1),
    }
    return ArchiverStatus.model_validate({**base, **facts})


def test_recent_archiving_passes():
    check = judge_archive_lag(archiver(), NOW, TIERS)
    assert check.ok
    assert "not archived yet: 256 bytes of WAL written since" in check.detail
    assert "strictest RPO 5 min (tier payroll)" in check.detail


def test_failing_archiving_fails_whatever_the_timings():
    check = judge_archive_lag(
        archiver(
            failed_count=12,
            last_failed_wal="000000010000000000000009",
            last_failed_time=NOW - timedelta(seconds=10),
        ),
        NOW,
        TIERS,
    )
    assert not check.ok
    assert "archiving on pg-a fails: 000000010000000000000009" in check.detail
    assert "12 failures" in check.detail
    assert len(check.threatens) == 2


def test_failure_older_than_the_last_success_is_history():
    check = judge_archive_lag(
        archiver(failed_count=1, last_failed_time=NOW - timedelta(hours=2)), NOW, TIERS
    )
    assert check.ok


def test_old_unarchived_wal_breaks_only_the_tiers_with_a_shorter_rpo():
    check = judge_archive_lag(
        archiver(last_archived_time=NOW - timedelta(minutes=20)), NOW, TIERS
    )
    assert not check.ok
    assert check.threatens == [
        "tier payroll: RPO 5 min cannot be met: WAL written in the last 20 min "
        "exists only on the primary"
    ]


def test_idle_primary_with_everything_archived_passes_however_long_ago():
    check = judge_archive_lag(
        archiver(current_lsn="0/9000000", last_archived_time=NOW - timedelta(days=2)),
        NOW,
        TIERS,
    )
    assert check.ok and "nothing is at risk" in check.detail


def test_store_says_how_far_the_archive_reaches_when_the_last_file_is_a_label():
    # Right after a base backup, pg_stat_archiver names the backup label.
    status = archiver(
        current_lsn="0/9000000",
        last_archived_wal="000000010000000000000008.00000028.backup",
        last_archived_time=NOW - timedelta(hours=1),
    )
    assert "an unknown amount" in judge_archive_lag(status, NOW, TIERS).detail
    check = judge_archive_lag(status, NOW, TIERS, "000000010000000000000008")
    assert check.ok and "nothing is at risk" in check.detail


def test_primary_that_never_archived_fails():
    check = judge_archive_lag(
        archiver(last_archived_wal=None, last_archived_time=None), NOW, TIERS
    )
    assert not check.ok and "archived no WAL" in check.detail


# Object Lock


def locked(**facts: object) -> ObjectLockFacts:
    base: dict[str, object] = {
        "bucket": "acme-odoo",
        "enabled": True,
        "backup_key": "pg/prod/base/b1/backup.info",
        "retention_mode": "COMPLIANCE",
        "retain_until": NOW + timedelta(days=30),
    }
    return ObjectLockFacts.model_validate({**base, **facts})


def test_retained_backup_in_a_locked_bucket_on_aws_passes():
    check = judge_object_lock(True, locked(), NOW, None)
    assert check.ok
    assert "retained in COMPLIANCE mode until 2027-01-03" in check.detail
    assert "not AWS" not in check.detail


def test_store_that_is_not_aws_says_enforcement_depends_on_it():
    check = judge_object_lock(True, locked(), NOW, "http://127.0.0.1:9000")
    assert check.ok
    assert "http://127.0.0.1:9000 is not AWS" in check.detail
    assert "moto" in check.detail


def test_backup_without_retention_fails_when_the_lock_is_required():
    check = judge_object_lock(
        True, locked(retention_mode=None, retain_until=None), NOW, None
    )
    assert not check.ok
    assert "no default retention" in check.detail
    assert "carries no retention in force" in check.detail


def test_expired_retention_is_no_retention():
    check = judge_object_lock(
        True, locked(retain_until=NOW - timedelta(seconds=1)), NOW, None
    )
    assert not check.ok


def test_unlocked_bucket_fails_only_when_the_inventory_asks_for_a_lock():
    facts = locked(enabled=False, backup_key=None)
    assert not judge_object_lock(True, facts, NOW, None).ok
    relaxed = judge_object_lock(False, facts, NOW, None)
    assert relaxed.ok and "does not ask for it" in relaxed.detail


def test_governance_mode_passes_with_a_hint():
    check = judge_object_lock(True, locked(retention_mode="GOVERNANCE"), NOW, None)
    assert check.ok and check.hint and "BypassGovernanceRetention" in check.hint


# Report and names


def test_report_is_ready_only_when_every_check_passes():
    good = judge_backup_age(NOW, NOW, TIERS)
    bad = judge_backup_age(None, NOW, TIERS)
    assert build_report("prod", NOW, [good]).ready
    report = build_report("prod", NOW, [good, bad, bad])
    assert not report.ready
    assert report.failed() == [bad, bad]
    assert report.objectives_at_risk == bad.threatens


def test_unreadable_source_fails_and_names_it():
    check = unreadable("archive lag", "pg_stat_archiver on pg-a", "refused", TIERS)
    assert not check.ok
    assert check.detail == "cannot read pg_stat_archiver on pg-a: refused"
    assert "cannot be shown to meet its objectives" in check.threatens[0]


@pytest.mark.parametrize(
    ("name", "segment", "timeline"),
    [
        ("000000010000000000000005", "000000010000000000000005", None),
        ("000000010000000000000005.gz", "000000010000000000000005", None),
        ("000000010000000000000005.partial", None, None),
        ("000000010000000000000002.00000028.backup", None, None),
        ("0000000A.history", None, 10),
    ],
)
def test_archived_object_names(name, segment, timeline):
    assert segment_of(name) == segment
    assert history_timeline_of(name) == timeline


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(40, "40 s"), (300, "5 min"), (3600, "1 h"), (93600, "26 h"), (5400, "90 min")],
)
def test_spans_read_as_people_say_them(seconds, said):
    assert span(seconds) == said
