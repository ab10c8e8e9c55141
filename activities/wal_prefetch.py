"""WAL fetched ahead of a drill copy's recovery, while its base backup restores.

PostgreSQL asks its restore_command for one file at a time, and each
barman-cloud-wal-restore is a new Python process that takes about 0.4 s
before its first byte. Most of a recovery's wait goes there, and a good
part of it on files the archive does not have: the history file of the
next timeline, looked for at start and again at promotion, and the segment
after the last one.

So, while barman-cloud-restore writes the data directory, the WAL archive
is listed once from the backup's first segment on. Plain segments and
history files are downloaded into the drill's spool; the names the archive
held then are written to ``listed``, last. The copy's restore_command takes
a file from the spool; answers "absent" at once for a name the listing did
not have; and leaves the rest (compressed or ``.partial`` objects, which
barman-cloud knows how to unpack) to barman-cloud-wal-restore. Without a
listing (the store did not answer it) every file goes to barman-cloud.

The copy therefore recovers to the end of the archive as it was when the
restore began: a segment archived later, during the drill, is not replayed,
and the RPO counts the commits it held as lost.
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.object_store import s3_client, server_prefix
from odoo_dr.inventory import ObjectStore
from odoo_dr.readiness import (
    SEGMENTS_PER_LOG,
    history_timeline_of,
    segment_of,
    segment_position,
)

# The file of names the archive held; written once every download is done.
LISTED = "listed"
# Downloads at once; a segment is 16 MB, read in chunks of 1 MB.
DOWNLOADS = 4
CHUNK = 1 << 20


@dataclass
class Prefetched:
    """What the spool received."""

    listed: int = 0
    files: int = 0
    bytes: int = 0
    left_to_barman: list[str] = field(default_factory=list)


def prefetch_wal(
    store: ObjectStore,
    begin_wal: str,
    spool: Path,
    owner: tuple[int, int] | None = None,
) -> Prefetched:
    """List the archive from ``begin_wal`` on and fill ``spool`` with its WAL.

    Blocking (boto3); run it in a thread. ``owner`` is the uid and gid the
    copy's PostgreSQL runs as, who must read the files. Raises whatever
    boto3 raises; the spool then has no listing and the copy's
    restore_command asks barman-cloud for every file.
    """
    s3 = s3_client(store)
    names, wanted = _archive_after(s3, store, begin_wal)
    spool.mkdir(mode=0o700, exist_ok=True)
    _own(spool, owner)
    done = Prefetched(listed=len(names))

    def fetch(item: tuple[str, str]) -> int:
        name, key = item
        part = spool / f".{name}.part"
        body = s3.get_object(Bucket=store.bucket, Key=key)["Body"]
        with open(part, "wb") as handle:
            shutil.copyfileobj(body, handle, CHUNK)
        _own(part, owner)
        os.replace(part, spool / name)
        return (spool / name).stat().st_size

    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        sizes = list(pool.map(fetch, sorted(wanted.items())))
    done.files, done.bytes = len(sizes), sum(sizes)
    done.left_to_barman = sorted(n for n in names if n not in wanted)
    listing = spool / f".{LISTED}.part"
    listing.write_text("".join(f"{name}\n" for name in sorted(names)))
    _own(listing, owner)
    os.replace(listing, spool / LISTED)
    return done


def _archive_after(
    s3: Any, store: ObjectStore, begin_wal: str
) -> tuple[set[str], dict[str, str]]:
    """Names the archive holds from ``begin_wal`` on, and the plain ones' keys.

    History files sit at the root of ``wals/``, segments in one folder per
    timeline and log; only the folders from the backup's on are listed, so
    years of older WAL are not.
    """
    root = f"{server_prefix(store)}wals/"
    paginate = s3.get_paginator("list_objects_v2").paginate
    keys: list[str] = []
    folders: list[str] = []
    for page in paginate(Bucket=store.bucket, Prefix=root, Delimiter="/"):
        keys += [obj["Key"] for obj in page.get("Contents", [])]
        folders += [common["Prefix"] for common in page.get("CommonPrefixes", [])]
    first = segment_position(begin_wal)
    for folder in folders:
        # A folder is named by timeline and log: the first segment it holds.
        log = folder[len(root) :].rstrip("/")
        if len(log) == 16 and _not_before(log + "00000000", first, whole_log=True):
            for page in paginate(Bucket=store.bucket, Prefix=folder):
                keys += [obj["Key"] for obj in page.get("Contents", [])]
    names: set[str] = set()
    wanted: dict[str, str] = {}
    for key in keys:
        base = key.rsplit("/", 1)[-1]
        name = _logical_name(base)
        if name is None:
            continue
        if history_timeline_of(name) is None and not _not_before(name, first):
            continue
        names.add(name)
        if base == name:  # neither compressed nor partial: a plain copy
            wanted[name] = key
    return names, wanted


def _logical_name(base: str) -> str | None:
    """The file PostgreSQL asks for that an archived object answers, if any."""
    if history_timeline_of(base) is not None:
        return base.split(".history", 1)[0] + ".history"
    return segment_of(base.replace(".partial", "", 1))


def _not_before(segment: str, first: tuple[int, int], whole_log: bool = False) -> bool:
    """Whether ``segment`` comes at or after ``first``, on its timeline or later.

    With ``whole_log``, at or after the log (256 segments) that holds it.
    """
    timeline, place = segment_position(segment)
    first_timeline, first_place = first
    if whole_log:
        place, first_place = (
            place // SEGMENTS_PER_LOG,
            first_place // SEGMENTS_PER_LOG,
        )
    return timeline >= first_timeline and place >= first_place


def _own(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)
