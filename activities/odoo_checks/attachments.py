"""Attachments: are the scanned bills and site photos still there, unchanged?

Odoo keeps an attachment's content in the filestore, a folder beside the
database, at ``<filestore>/<store_fname>`` where ``store_fname`` is
``sha[:2]/sha`` of the content's sha1, also kept in ``checksum``. The
filestore is copied apart from the database and does not roll back with it:
after a restore, rows can point to files that were never copied (a missing
scan of a vendor bill the auditor will ask for), to files cut short or
overwritten (a corrupted site photo used in a dispute), or to a file of
another content (a row restored from another point than its file).

The check reads a sample of files, never the whole filestore unless asked:
the newest stored attachments up to a size, by id. Files are read off the
event loop, in a few threads at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from itertools import chain, zip_longest
from pathlib import Path

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import EXAMPLES, CheckResult, Figure

# The newest binary attachments kept in the filestore, up to a size, newest
# first. Parameters: the largest file size read, how many (NULL for all).
_SAMPLE = """
    SELECT id, name, res_model, res_id, store_fname, checksum
    FROM ir_attachment
    WHERE type = 'binary' AND store_fname IS NOT NULL
      AND coalesce(file_size, 0) <= %s
    ORDER BY id DESC
    LIMIT %s
"""

# Files are hashed in pieces of this size, by this many threads at once.
_READ_BYTES = 1 << 20
_THREADS = 4


@dataclass(frozen=True)
class StoredFile:
    """An attachment row that says its content is in the filestore."""

    id: int
    name: str
    res_model: str | None
    res_id: int | None
    store_fname: str
    checksum: str | None

    @property
    def label(self) -> str:
        """The attachment as a person finds it in Odoo."""
        owner = f" on {self.res_model} {self.res_id}" if self.res_model else ""
        return f"{self.name}{owner} (attachment {self.id}, file {self.store_fname})"

    @property
    def named_by_checksum(self) -> bool:
        """Whether ``store_fname`` is ``sha[:2]/sha`` of ``checksum``."""
        sha = self.checksum or ""
        return bool(sha) and self.store_fname == f"{sha[:2]}/{sha}"


@dataclass(frozen=True)
class Inspection:
    """What reading one file found: its size and sha1, or that it is absent."""

    stored: StoredFile
    exists: bool
    size: int = 0
    sha1: str = ""
    error: str = ""


def full_path(filestore: Path, store_fname: str) -> Path:
    """Where Odoo reads ``store_fname``: dots and outer slashes removed."""
    return filestore / re.sub(r"[.]", "", store_fname).strip("/\\")


def inspect_files(filestore: Path, files: list[StoredFile]) -> list[Inspection]:
    """Read and hash each file (blocking: run it in a thread)."""
    found = []
    for stored in files:
        path = full_path(filestore, stored.store_fname)
        digest = hashlib.sha1()  # noqa: S324 - Odoo's checksum is sha1
        size = 0
        try:
            with path.open("rb") as content:
                while piece := content.read(_READ_BYTES):
                    digest.update(piece)
                    size += len(piece)
        except (FileNotFoundError, NotADirectoryError):
            found.append(Inspection(stored, exists=False))
            continue
        except OSError as exc:
            # Unreadable counts as missing: Odoo could not serve it either.
            error = exc.strerror or type(exc).__name__
            found.append(Inspection(stored, exists=False, error=error))
            continue
        found.append(Inspection(stored, True, size, digest.hexdigest()))
    return found


async def _inspect(filestore: Path, files: list[StoredFile]) -> list[Inspection]:
    """Inspect the files in a few threads, keeping the event loop free.

    The inspections come back in the order of ``files`` (newest first).
    """
    shares = [files[start::_THREADS] for start in range(_THREADS)]
    done = await asyncio.gather(
        *(asyncio.to_thread(inspect_files, filestore, share) for share in shares)
    )
    position = {stored.id: number for number, stored in enumerate(files)}
    return sorted(chain.from_iterable(done), key=lambda i: position[i.stored.id])


def _interleave(*kinds: list[str]) -> list[str]:
    """Examples of every kind, taken in turn, so each kind is shown."""
    mixed = chain.from_iterable(zip_longest(*kinds))
    return [example for example in mixed if example is not None][:EXAMPLES]


@check("attachments.filestore_files", "attachments")
async def filestore_files(ctx: CheckContext, this: Check) -> CheckResult:
    """The sampled attachments' files exist and hold the content recorded.

    For each attachment of the sample: the file exists at its
    ``store_fname``, its sha1 is the ``checksum``, and ``store_fname`` is the
    name Odoo derives from that checksum. Missing, corrupted and misnamed
    files are counted and listed apart.
    """
    sample = ctx.attachments
    rule = (
        f"all up to {sample.max_bytes} bytes"
        if sample.all
        else f"newest {sample.limit} up to {sample.max_bytes} bytes"
    )
    if ctx.filestore is None:
        return this.skipped(
            "no filestore folder is known for this database, so no file was read"
        )
    if not await asyncio.to_thread(ctx.filestore.is_dir):
        return this.result(
            "fail",
            f"the filestore folder {ctx.filestore} does not exist",
            found={"filestore": str(ctx.filestore)},
            hint="restore or mount the filestore beside the database before "
            "users open documents; attachments without files cannot be opened",
        )
    rows = await ctx.rows(
        _SAMPLE, (sample.max_bytes, None if sample.all else sample.limit)
    )
    files = [StoredFile(*row) for row in rows]
    inspected = await _inspect(ctx.filestore, files)
    missing = [i for i in inspected if not i.exists]
    corrupted = [i for i in inspected if i.exists and i.sha1 != i.stored.checksum]
    misnamed = [f for f in files if not f.named_by_checksum]
    found: dict[str, Figure] = {
        "sample": rule,
        "files_read": len(files) - len(missing),
        "bytes_read": sum(i.size for i in inspected),
        "missing": len(missing),
        "corrupted": len(corrupted),
        "misnamed": len(misnamed),
    }
    expected = {"missing": 0, "corrupted": 0, "misnamed": 0}
    if missing or corrupted or misnamed:
        examples = _interleave(
            [
                f"missing: {i.stored.label}" + (f" ({i.error})" if i.error else "")
                for i in missing
            ],
            [
                f"corrupted: {i.stored.label} has sha1 {i.sha1}, "
                f"{i.size} bytes; checksum says {i.stored.checksum}"
                for i in corrupted
            ],
            [
                f"misnamed: {stored.label} is not named by its checksum "
                f"{stored.checksum}"
                for stored in misnamed
            ],
        )
        return this.result(
            "fail",
            f"of {len(files)} sampled attachments, {len(missing)} missing, "
            f"{len(corrupted)} corrupted and {len(misnamed)} misnamed in the "
            "filestore",
            found=found,
            expected=expected,
            examples=examples,
            hint="copy the filestore again from the source (or from the "
            "filestore backup taken with this database) and rerun with "
            "all attachments; documents listed here cannot be opened as they are",
        )
    return this.result(
        "pass",
        f"all {len(files)} sampled attachments ({rule}) are in the filestore "
        "with the content their checksum records",
        found=found,
        expected=expected,
    )


CHECKS: tuple[Check, ...] = (filestore_files,)
