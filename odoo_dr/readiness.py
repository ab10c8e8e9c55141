"""Backup readiness: can the environment still meet its recovery objectives?

Restore drills prove a recovery end to end, but only now and then. These
checks are cheap enough to run often; each judges one fact about the
backups and the WAL archive against the recovery tiers:

- the newest base backup's age: a restore replays every WAL segment archived
  since that backup, so replay time, and with it the RTO, grows with it;
- WAL continuity: recovery from the newest base backup stops at the first
  archived segment that is missing, and every commit after it is lost;
- archive lag: WAL the primary wrote but has not archived is lost with the
  primary, so its age must stay within the strictest tier's RPO;
- Object Lock: backups an attacker holding the store's keys can delete do
  not protect against that attacker.

Plain models and pure functions: the facts come in as arguments, so that
every judgement is testable without a server. Nothing here holds a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from pydantic import BaseModel

from odoo_dr.inventory import RecoveryTier
from odoo_dr.lsn import lsn_to_int

# A nightly base backup plus two hours for a slow night.
MAX_BACKUP_AGE = timedelta(hours=26)

# PostgreSQL's default 16 MiB segments: 256 of them fill one 4 GiB "log",
# the middle eight hex digits of a segment's name. Servers built with
# another wal_segment_size are not handled.
SEGMENT_BYTES = 16 * 1024 * 1024
SEGMENTS_PER_LOG = 0x100

# How many missing segments a failed continuity check names.
MISSING_SHOWN = 10

BACKUP_AGE = "base backup age"
WAL_CONTINUITY = "WAL continuity"
ARCHIVE_LAG = "archive lag"
OBJECT_LOCK = "Object Lock"

Figure = float | int | str | None

_SEGMENT = re.compile(r"^([0-9A-F]{24})(\.(gz|bz2|snappy|zst|lz4|xz))?$")
_HISTORY = re.compile(r"^([0-9A-F]{8})\.history(\.(gz|bz2|snappy|zst|lz4|xz))?$")


class ReadinessCheck(BaseModel):
    """One judged fact: whether it holds, what was found, what to do.

    ``threatens`` names, as sentences, the tiers' objectives that a failure
    of this check puts out of reach.
    """

    name: str
    ok: bool
    detail: str
    hint: str | None = None
    figures: dict[str, Figure] = {}
    threatens: list[str] = []


class ReadinessReport(BaseModel):
    """Every readiness check of one environment at one moment."""

    environment: str
    checked_at: datetime
    checks: list[ReadinessCheck]
    ready: bool
    objectives_at_risk: list[str] = []

    def failed(self) -> list[ReadinessCheck]:
        """The checks that did not pass."""
        return [check for check in self.checks if not check.ok]

    def check(self, name: str) -> ReadinessCheck:
        """The check called ``name``.

        Raises:
            KeyError: the report has no such check.
        """
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)


class ArchiverStatus(BaseModel):
    """What the serving primary says of its WAL archiving (pg_stat_archiver)."""

    node: str
    current_lsn: str | None = None
    timeline: int | None = None
    last_archived_wal: str | None = None
    last_archived_time: datetime | None = None
    failed_count: int = 0
    last_failed_wal: str | None = None
    last_failed_time: datetime | None = None


class ObjectLockFacts(BaseModel):
    """The bucket's Object Lock settings and the newest backup's retention."""

    bucket: str
    enabled: bool
    default_mode: str | None = None
    default_days: int | None = None
    default_years: int | None = None
    backup_key: str | None = None
    retention_mode: str | None = None
    retain_until: datetime | None = None
    legal_hold: bool = False


def build_report(
    environment: str, checked_at: datetime, checks: list[ReadinessCheck]
) -> ReadinessReport:
    """Gather the checks: ready when all pass, and what the failures put at risk."""
    at_risk: list[str] = []
    for check in checks:
        if not check.ok:
            at_risk += [s for s in check.threatens if s not in at_risk]
    return ReadinessReport(
        environment=environment,
        checked_at=checked_at,
        checks=checks,
        ready=all(check.ok for check in checks),
        objectives_at_risk=at_risk,
    )


def span(seconds: float) -> str:
    """A duration as a person says it: ``40 s``, ``12 min``, ``26 h``, ``3 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        whole = seconds >= size and seconds % size == 0
        if whole or seconds >= 2 * size:
            return f"{seconds / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{seconds:.0f} s"


def segment_of(object_name: str) -> str | None:
    """The WAL segment an archived object holds, without compression suffix.

    None for anything else: a timeline history file, a ``.partial`` segment
    or a backup label (``.backup``).
    """
    match = _SEGMENT.match(object_name)
    return match.group(1) if match else None


def history_timeline_of(object_name: str) -> int | None:
    """The timeline a ``TTTTTTTT.history`` object introduces, else None."""
    match = _HISTORY.match(object_name)
    return int(match.group(1), 16) if match else None


def unreadable(
    name: str,
    source: str,
    error: str,
    tiers: Sequence[RecoveryTier] = (),
    *,
    required: bool = True,
) -> ReadinessCheck:
    """A check that could not be judged because ``source`` did not answer.

    A check that cannot see its facts is no pass, unless nothing requires
    it (``required`` false): then the failure to read is only reported.
    """
    detail = f"cannot read {source}: {error}"
    if not required:
        return ReadinessCheck(
            name=name, ok=True, detail=f"{detail}; nothing requires this check"
        )
    return ReadinessCheck(
        name=name,
        ok=False,
        detail=detail,
        hint=f"make {source} reachable from the worker, then check again",
        threatens=[
            f"tier {t.name} (RTO {span(t.rto.total_seconds())}, RPO "
            f"{span(t.rpo.total_seconds())}) cannot be shown to meet its "
            f"objectives: {source} cannot be read"
            for t in tiers
        ],
    )


def judge_backup_age(
    newest_end: datetime | None,
    now: datetime,
    tiers: Sequence[RecoveryTier],
    max_age: timedelta = MAX_BACKUP_AGE,
    *,
    backup_id: str | None = None,
) -> ReadinessCheck:
    """Judge the newest completed base backup's end time against ``max_age``."""
    limit = max_age.total_seconds()
    if newest_end is None:
        return ReadinessCheck(
            name=BACKUP_AGE,
            ok=False,
            detail="the object store holds no completed base backup: there is "
            "nothing to restore",
            hint="take a base backup (barman-cloud-backup) and schedule one nightly",
            figures={"age_seconds": None, "max_age_seconds": limit},
            threatens=[
                f"tier {t.name}: RTO {span(t.rto.total_seconds())} and RPO "
                f"{span(t.rpo.total_seconds())} cannot be met: there is no base "
                "backup to restore"
                for t in tiers
            ],
        )
    age = max(0.0, (now - newest_end).total_seconds())
    which = f"newest base backup {backup_id}" if backup_id else "newest base backup"
    detail = (
        f"{which} ended {span(age)} ago "
        f"({newest_end.astimezone(UTC):%Y-%m-%d %H:%M} UTC); limit {span(limit)}"
    )
    figures: dict[str, Figure] = {
        "backup_id": backup_id,
        "age_seconds": round(age, 1),
        "max_age_seconds": limit,
    }
    if age <= limit:
        return ReadinessCheck(name=BACKUP_AGE, ok=True, detail=detail, figures=figures)
    return ReadinessCheck(
        name=BACKUP_AGE,
        ok=False,
        detail=f"{detail}. A restore replays all WAL archived since that backup; "
        "replay time grows with that WAL, which threatens the RTO",
        hint="check the backup schedule and the last backup job's log; "
        "take a base backup now",
        figures=figures,
        threatens=[
            f"tier {t.name}: RTO {span(t.rto.total_seconds())} at risk: a restore "
            f"replays {span(age)} of WAL on top of the newest base backup"
            for t in tiers
        ],
    )


def judge_wal_continuity(
    first_segment: str | None,
    segments: Iterable[str],
    history_timelines: set[int],
    newest: str | None = None,
    *,
    tiers: Sequence[RecoveryTier] = (),
) -> ReadinessCheck:
    """Judge whether every WAL segment from ``first_segment`` on is archived.

    ``first_segment`` is the newest base backup's begin_wal; ``segments``
    the archived segment names; ``history_timelines`` the timelines whose
    ``.history`` file is archived; ``newest`` the newest segment known to be
    archived (default: the newest of ``segments``). A timeline switch
    continues the sequence on the higher timeline, if its history file is
    archived. Which timeline branched from which is not read from the
    history files: when two timelines above the backup's both hold a
    segment, the higher one is followed.
    """
    if first_segment is None:
        return ReadinessCheck(
            name=WAL_CONTINUITY,
            ok=False,
            detail="no base backup to replay WAL onto",
            hint="take a base backup first",
            threatens=_rpo_lost(tiers, "there is no base backup to replay WAL onto"),
        )
    start_tli, start = segment_position(first_segment)
    found: dict[int, set[int]] = {}
    for name in segments:
        tli, position = segment_position(name)
        found.setdefault(position, set()).add(tli)
    end_tli, end = _newest_position(newest, found, start_tli, start)
    timeline, expected, gaps = start_tli, start, _Gaps()
    for position in sorted(p for p in found if start <= p <= end):
        usable = {
            t
            for t in found[position]
            if t == timeline or (timeline < t <= end_tli and t in history_timelines)
        }
        if not usable:
            continue
        gaps.add(timeline, expected, position)
        timeline, expected = max(usable), position + 1
    gaps.add(timeline, expected, end + 1)
    first, last = first_segment, _segment_name(end_tli, end)
    figures: dict[str, Figure] = {
        "first_segment": first,
        "newest_segment": last,
        "expected_segments": end - start + 1,
        "missing_segments": gaps.count,
        "timeline": timeline,
    }
    if not gaps.count:
        said = (
            f"all {end - start + 1} segments from {first} to {last} are archived"
            if end > start
            else f"segment {first}, the only one since the backup, is archived"
        )
        return ReadinessCheck(
            name=WAL_CONTINUITY,
            ok=True,
            detail=said + _timelines_crossed(start_tli, timeline),
            figures=figures,
        )
    orphans = sorted(
        {t for ts in found.values() for t in ts if t > start_tli} - history_timelines
    )
    return _gap_check(first, last, gaps, orphans, figures, tiers)


def judge_archive_lag(
    status: ArchiverStatus,
    now: datetime,
    tiers: Sequence[RecoveryTier],
    archived_segment: str | None = None,
) -> ReadinessCheck:
    """Judge the primary's WAL archiving against the strictest tier's RPO.

    Archiving that fails now (the last failure is newer than the last
    success) fails the check whatever the timings. Otherwise WAL written
    after the end of ``archived_segment`` (the newest segment the archive
    holds on the primary's timeline; by default the last file archived,
    when that is a segment) is at risk for as long as the last archiving is
    old; when nothing was written after it, nothing is at risk.
    """
    node, wal = status.node, status.last_archived_wal
    figures: dict[str, Figure] = {
        "node": node,
        "last_archived_wal": wal,
        "failed_count": status.failed_count,
    }
    failing = status.last_failed_time is not None and (
        status.last_archived_time is None
        or status.last_failed_time > status.last_archived_time
    )
    if failing:
        return _archiving_fails(status, figures, tiers)
    if status.last_archived_time is None:
        return ReadinessCheck(
            name=ARCHIVE_LAG,
            ok=False,
            detail=f"{node} has archived no WAL since its statistics were reset",
            hint="check archive_mode and archive_command on the primary",
            figures=figures,
            threatens=_rpo_lost(tiers, "no WAL reaches the archive"),
        )
    age = max(0.0, (now - status.last_archived_time).total_seconds())
    pending = _unarchived_bytes(status, archived_segment)
    figures.update(age_seconds=round(age, 1), unarchived_bytes=pending)
    said = f"{node} archived {wal} {span(age)} ago"
    if pending == 0:
        return ReadinessCheck(
            name=ARCHIVE_LAG,
            ok=True,
            detail=f"{said}; it has written nothing since: nothing is at risk",
            figures=figures,
        )
    unarchived = "an unknown amount" if pending is None else f"{pending} bytes"
    said += f"; not archived yet: {unarchived} of WAL written since"
    if not tiers:
        return ReadinessCheck(
            name=ARCHIVE_LAG,
            ok=True,
            detail=f"{said}; no tier sets an RPO",
            figures=figures,
        )
    strictest = min(tiers, key=lambda t: t.rpo)
    budget = strictest.rpo.total_seconds()
    figures["rpo_seconds"] = budget
    said += f"; strictest RPO {span(budget)} (tier {strictest.name})"
    over = [t for t in tiers if age > t.rpo.total_seconds()]
    if not over:
        return ReadinessCheck(name=ARCHIVE_LAG, ok=True, detail=said, figures=figures)
    return ReadinessCheck(
        name=ARCHIVE_LAG,
        ok=False,
        detail=said,
        hint="segments close too rarely or archive_command hangs: keep "
        "archive_timeout below the RPO and look for a stuck archiver process",
        figures=figures,
        threatens=[
            f"tier {t.name}: RPO {span(t.rpo.total_seconds())} cannot be met: "
            f"WAL written in the last {span(age)} exists only on the primary"
            for t in over
        ],
    )


def judge_object_lock(
    required: bool, lock: ObjectLockFacts, now: datetime, endpoint_url: str | None
) -> ReadinessCheck:
    """Judge the bucket's Object Lock and the newest backup's retention.

    Fails only when the inventory asks for Object Lock (``required``);
    otherwise the facts are reported and the check passes.
    """
    figures: dict[str, Figure] = {
        "bucket": lock.bucket,
        "enabled": str(lock.enabled).lower(),
        "retention_mode": lock.retention_mode,
        "retain_until": lock.retain_until.isoformat() if lock.retain_until else None,
    }
    caveat = _enforcement_caveat(endpoint_url)
    if not lock.enabled:
        return _lock_check(
            required,
            f"bucket {lock.bucket} has no Object Lock: whoever holds the store's "
            "keys can delete or overwrite the backups and the WAL",
            "turn on Object Lock (it needs versioning) with a default retention "
            "longer than the backup cycle",
            figures,
        )
    rule = _default_rule(lock)
    if lock.backup_key is None:
        return _lock_check(
            required,
            f"bucket {lock.bucket} has Object Lock ({rule}), but no base "
            "backup was found whose retention could be read",
            "take a base backup",
            figures,
            caveat,
        )
    if lock.legal_hold:
        held = f"is under legal hold{_until(lock, now)}"
    elif lock.retain_until is not None and lock.retain_until > now:
        held = f"is retained in {lock.retention_mode} mode{_until(lock, now)}"
    else:
        return _lock_check(
            required,
            f"bucket {lock.bucket} has Object Lock ({rule}), but {lock.backup_key} "
            "carries no retention in force: the newest backup can be deleted",
            "set a default retention rule on the bucket so that every new "
            "object is locked, or lock each backup after it completes",
            figures,
            caveat,
        )
    hint = None
    if lock.retention_mode == "GOVERNANCE" and not lock.legal_hold:
        hint = (
            "governance mode yields to anyone allowed "
            "s3:BypassGovernanceRetention; compliance mode yields to no one"
        )
    return ReadinessCheck(
        name=OBJECT_LOCK,
        ok=True,
        detail=f"bucket {lock.bucket} has Object Lock ({rule}); "
        f"{lock.backup_key} {held}" + caveat,
        hint=hint,
        figures=figures,
    )


class _Gaps:
    """Runs of missing segment positions, counted, the first few named."""

    def __init__(self) -> None:
        self.count = 0
        self.names: list[str] = []

    def add(self, timeline: int, begin: int, end: int) -> None:
        """Record positions ``begin`` up to, not including, ``end``."""
        if end <= begin:
            return
        self.count += end - begin
        room = MISSING_SHOWN - len(self.names)
        self.names += [
            _segment_name(timeline, p) for p in range(begin, min(end, begin + room))
        ]


def _gap_check(
    first: str,
    last: str,
    gaps: _Gaps,
    orphans: list[int],
    figures: dict[str, Figure],
    tiers: Sequence[RecoveryTier],
) -> ReadinessCheck:
    shown = ", ".join(gaps.names) + (", ..." if gaps.count > len(gaps.names) else "")
    detail = (
        f"{gaps.count} of {figures['expected_segments']} segments from {first} "
        f"to {last} are missing: {shown}"
    )
    if orphans:
        listed = ", ".join(f"{t:08X}.history" for t in orphans)
        detail += f"; segments of higher timelines lack their history file ({listed})"
    return ReadinessCheck(
        name=WAL_CONTINUITY,
        ok=False,
        detail=detail,
        hint="recovery from the newest base backup stops at the first missing "
        "segment: take a base backup now so that recoveries start after the "
        "gap, then find out why archiving lost segments",
        figures=figures,
        threatens=_rpo_lost(
            tiers,
            f"recovery from the newest base backup stops before {gaps.names[0]}",
        ),
    )


def segment_position(name: str) -> tuple[int, int]:
    """A segment name's timeline and position in the WAL sequence.

    Raises:
        ValueError: ``name`` is no 16 MiB segment's name.
    """
    if not re.fullmatch(r"[0-9A-F]{24}", name):
        raise ValueError(f"not a WAL segment name: {name!r}")
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    if seg >= SEGMENTS_PER_LOG:
        raise ValueError(f"{name} is no 16 MiB segment's name")
    return int(name[:8], 16), log * SEGMENTS_PER_LOG + seg


def _segment_name(timeline: int, position: int) -> str:
    log, seg = divmod(position, SEGMENTS_PER_LOG)
    return f"{timeline:08X}{log:08X}{seg:08X}"


def _newest_position(
    newest: str | None, found: dict[int, set[int]], start_tli: int, start: int
) -> tuple[int, int]:
    """Where the sequence must reach: ``newest``, else the newest segment found.

    Never before the start: a backup whose first segment is not archived
    yet cannot be restored.
    """
    if newest is not None:
        tli, position = segment_position(newest)
    elif found:
        tli, position = max((max(t), p) for p, t in found.items())
    else:
        tli, position = start_tli, start
    return max(tli, start_tli), max(position, start)


def _timelines_crossed(start_tli: int, timeline: int) -> str:
    if timeline == start_tli:
        return ""
    return f", crossing from timeline {start_tli} to {timeline}"


def _rpo_lost(tiers: Sequence[RecoveryTier], why: str) -> list[str]:
    return [
        f"tier {t.name}: RPO {span(t.rpo.total_seconds())} cannot be met: {why}"
        for t in tiers
    ]


def _unarchived_bytes(status: ArchiverStatus, archived: str | None) -> int | None:
    """WAL bytes written after the end of the newest archived segment.

    Unknown when no archived segment is known: pg_stat_archiver may name a
    backup label, a history file or a ``.partial`` segment instead.
    """
    archived = archived or segment_of(status.last_archived_wal or "")
    if status.current_lsn is None or archived is None:
        return None
    _tli, position = segment_position(archived)
    archived_end = (position + 1) * SEGMENT_BYTES
    return max(0, lsn_to_int(status.current_lsn) - archived_end)


def _archiving_fails(
    status: ArchiverStatus,
    figures: dict[str, Figure],
    tiers: Sequence[RecoveryTier],
) -> ReadinessCheck:
    assert status.last_failed_time is not None
    failed_at = f"{status.last_failed_time.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    since = (
        f"last success {status.last_archived_wal}"
        if status.last_archived_wal
        else "nothing archived since the statistics were reset"
    )
    return ReadinessCheck(
        name=ARCHIVE_LAG,
        ok=False,
        detail=f"archiving on {status.node} fails: {status.last_failed_wal} "
        f"failed at {failed_at}, {status.failed_count} failures counted; {since}",
        hint="read the primary's log for archive_command errors; check the "
        "object store's address, credentials and free space",
        figures=figures,
        threatens=_rpo_lost(tiers, "WAL does not reach the archive"),
    )


def _enforcement_caveat(endpoint_url: str | None) -> str:
    host = urlparse(endpoint_url).hostname if endpoint_url else "s3.amazonaws.com"
    if host and (host == "amazonaws.com" or host.endswith(".amazonaws.com")):
        return ""
    return (
        f". The store at {endpoint_url} is not AWS: enforcement is up to that "
        "server (moto, the sandbox's, enforces it only in part: multipart "
        "uploads get no lock, retention can be shortened)"
    )


def _default_rule(lock: ObjectLockFacts) -> str:
    if not lock.default_mode:
        return "no default retention"
    if lock.default_years:
        length = f"{lock.default_years} years"
    else:
        length = f"{lock.default_days or 0} days"
    return f"default {lock.default_mode} for {length}"


def _until(lock: ObjectLockFacts, now: datetime) -> str:
    if lock.retain_until is None or lock.retain_until <= now:
        return ""
    left = span((lock.retain_until - now).total_seconds())
    return (
        f" until {lock.retain_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({left} left)"
    )


def _lock_check(
    required: bool,
    detail: str,
    hint: str,
    figures: dict[str, Figure],
    caveat: str = "",
) -> ReadinessCheck:
    if not required:
        return ReadinessCheck(
            name=OBJECT_LOCK,
            ok=True,
            detail=f"{detail}; the inventory does not ask for it{caveat}",
            figures=figures,
        )
    return ReadinessCheck(
        name=OBJECT_LOCK, ok=False, detail=detail + caveat, hint=hint, figures=figures
    )
