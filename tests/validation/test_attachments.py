from __future__ import annotations

import shutil
from pathlib import Path

from activities.odoo_checks.catalogue import run_catalogue, select_checks
from odoo_dr.validation import AttachmentSample, CheckResult, Expectations
from tests.validation.conftest import OdooCopy

NAME = "attachments.filestore_files"
NEWEST = "SELECT max(id) FROM ir_attachment"
OLDEST = "SELECT min(id) FROM ir_attachment"


async def _attachments(
    odoo_copy: OdooCopy, sample: AttachmentSample | None = None
) -> CheckResult:
    return (await odoo_copy.validate("attachments", attachments=sample))[NAME]


def _file_of(odoo_copy: OdooCopy, which: str) -> tuple[int, Path]:
    """An attachment's id and its file in the copy's filestore."""
    attachment = int(str(odoo_copy.value(which)))
    store_fname = odoo_copy.value(
        "SELECT store_fname FROM ir_attachment WHERE id = %s", (attachment,)
    )
    return attachment, odoo_copy.filestore / str(store_fname)


async def test_healthy_copy_passes(odoo_copy: OdooCopy) -> None:
    stored = odoo_copy.value("SELECT count(*) FROM ir_attachment")
    result = await _attachments(odoo_copy)
    assert result.verdict == "pass", result.summary
    assert result.found["files_read"] == stored


async def test_missing_file_fails_and_is_listed_as_missing(
    odoo_copy: OdooCopy,
) -> None:
    attachment, path = _file_of(odoo_copy, NEWEST)
    path.unlink()
    result = await _attachments(odoo_copy)
    assert result.verdict == "fail" and result.critical
    assert (result.found["missing"], result.found["corrupted"]) == (1, 0)
    assert result.examples[0].startswith("missing: ")
    assert f"(attachment {attachment}, file " in result.examples[0]


async def test_corrupted_file_fails_and_is_listed_as_corrupted(
    odoo_copy: OdooCopy,
) -> None:
    attachment, path = _file_of(odoo_copy, NEWEST)
    path.write_bytes(path.read_bytes()[:100])
    result = await _attachments(odoo_copy)
    assert result.verdict == "fail"
    assert (result.found["missing"], result.found["corrupted"]) == (0, 1)
    assert result.examples[0].startswith("corrupted: ")
    assert f"(attachment {attachment}, " in result.examples[0]
    assert "100 bytes" in result.examples[0]


async def test_store_fname_other_than_the_checksum_fails(
    odoo_copy: OdooCopy,
) -> None:
    attachment, path = _file_of(odoo_copy, NEWEST)
    path.rename(path.with_name("renamed"))
    odoo_copy.execute(
        "UPDATE ir_attachment SET store_fname = split_part(store_fname, '/', 1) "
        "|| '/renamed' WHERE id = %s",
        (attachment,),
    )
    result = await _attachments(odoo_copy)
    assert result.verdict == "fail"
    assert result.found["misnamed"] == 1
    assert (result.found["missing"], result.found["corrupted"]) == (0, 0)
    assert result.examples[0].startswith("misnamed: ")
    assert f"(attachment {attachment}, " in result.examples[0]


async def test_missing_and_corrupted_files_are_both_shown(
    odoo_copy: OdooCopy,
) -> None:
    for _, path in (_file_of(odoo_copy, NEWEST), _file_of(odoo_copy, OLDEST)):
        path.unlink()
    _, corrupted = _file_of(odoo_copy, "SELECT max(id) - 1 FROM ir_attachment")
    corrupted.write_bytes(b"not the scan")
    result = await _attachments(odoo_copy, AttachmentSample(all=True))
    assert (result.found["missing"], result.found["corrupted"]) == (2, 1)
    kinds = [example.split(":")[0] for example in result.examples]
    assert kinds == ["missing", "corrupted", "missing"]


async def test_sample_reads_only_the_newest_attachments(odoo_copy: OdooCopy) -> None:
    _, path = _file_of(odoo_copy, OLDEST)
    path.unlink()
    result = await _attachments(odoo_copy, AttachmentSample(limit=3))
    assert result.verdict == "pass"
    assert result.found["files_read"] == 3


async def test_sample_of_all_finds_an_old_missing_file(odoo_copy: OdooCopy) -> None:
    attachment, path = _file_of(odoo_copy, OLDEST)
    path.unlink()
    result = await _attachments(odoo_copy, AttachmentSample(limit=3, all=True))
    assert result.verdict == "fail"
    assert f"(attachment {attachment}, " in result.examples[0]


async def test_files_over_the_size_limit_are_not_read(odoo_copy: OdooCopy) -> None:
    largest = "SELECT id FROM ir_attachment ORDER BY file_size DESC, id LIMIT 1"
    _, path = _file_of(odoo_copy, largest)
    size = path.stat().st_size
    path.unlink()
    result = await _attachments(odoo_copy, AttachmentSample(max_bytes=size - 1))
    assert result.verdict == "pass"


async def test_missing_filestore_folder_fails(odoo_copy: OdooCopy) -> None:
    shutil.rmtree(odoo_copy.filestore)
    result = await _attachments(odoo_copy)
    assert result.verdict == "fail"
    assert "does not exist" in result.summary


async def test_unknown_filestore_is_skipped_with_the_reason(
    odoo_copy: OdooCopy,
) -> None:
    _, results = await run_catalogue(
        odoo_copy.conninfo,
        inventory_version="17.0",
        expected=Expectations(),
        checks=select_checks(["attachments"]),
        filestore=None,
    )
    result = {result.name: result for result in results}[NAME]
    assert result.verdict == "skipped"
    assert "no filestore folder is known" in result.summary
