from __future__ import annotations

import pytest

from activities.odoo_checks import accounting
from odoo_dr.validation import CheckResult
from tests.validation.conftest import OdooCopy

# The seed's journals: Hartmann Bau's hash-locked vendor bills, and Northgate's
# vendor bills, which are not locked.
LOCKED_JOURNAL = 1
PLAIN_JOURNAL = 5


async def _check(copy: OdooCopy, name: str) -> CheckResult:
    return (await copy.validate("accounting"))[name]


def _name(copy: OdooCopy, move_id: int) -> str:
    return str(copy.value("SELECT name FROM account_move WHERE id = %s", (move_id,)))


def _posted_move(copy: OdooCopy, journal: int, position: int = 5) -> tuple[int, str]:
    """A posted bill of ``journal``: the one at ``position`` in its sequence."""
    move_id = copy.value(
        "SELECT id FROM account_move WHERE journal_id = %s AND state = 'posted' "
        "AND sequence_prefix = 'BILL/2026/' ORDER BY sequence_number "
        "OFFSET %s LIMIT 1",
        (journal, position),
    )
    assert isinstance(move_id, int)
    return move_id, _name(copy, move_id)


def _chain_link(copy: OdooCopy, number: int) -> tuple[int, str]:
    """The locked journal's entry holding link ``number`` of the hash chain."""
    move_id = copy.value(
        "SELECT id FROM account_move WHERE journal_id = %s "
        "AND secure_sequence_number = %s",
        (LOCKED_JOURNAL, number),
    )
    assert isinstance(move_id, int)
    return move_id, _name(copy, move_id)


def _drop_unique_numbering(copy: OdooCopy) -> None:
    """Damage as a corrupt index would: Odoo's unique numbering no longer holds."""
    copy.execute("DROP INDEX account_move_sequence_index3")
    copy.execute("DROP INDEX account_move_unique_name")


@pytest.mark.parametrize("name", [entry.name for entry in accounting.CHECKS])
async def test_healthy_copy_passes(odoo_copy: OdooCopy, name: str) -> None:
    result = await _check(odoo_copy, name)
    assert result.verdict == "pass", result.summary


async def test_unbalanced_move_fails(odoo_copy: OdooCopy) -> None:
    move_id, move_name = _posted_move(odoo_copy, PLAIN_JOURNAL)
    odoo_copy.execute(
        "UPDATE account_move_line SET debit = debit + 10, balance = balance + 10 "
        "WHERE id = (SELECT min(id) FROM account_move_line WHERE move_id = %s)",
        (move_id,),
    )
    result = await _check(odoo_copy, "accounting.balanced_moves")
    assert result.verdict == "fail" and result.critical
    assert result.found["unbalanced_moves"] == 1
    assert result.examples[0].startswith(f"{move_name} (account_move {move_id})")


async def test_posted_move_without_lines_fails(odoo_copy: OdooCopy) -> None:
    move_id, move_name = _posted_move(odoo_copy, PLAIN_JOURNAL)
    odoo_copy.execute("DELETE FROM account_move_line WHERE move_id = %s", (move_id,))
    result = await _check(odoo_copy, "accounting.posted_moves_have_lines")
    assert result.verdict == "fail" and "without lines: 1" in result.summary
    assert result.examples == [f"{move_name} (account_move {move_id})"]


async def test_lost_move_leaves_a_sequence_gap(odoo_copy: OdooCopy) -> None:
    _, before = _posted_move(odoo_copy, PLAIN_JOURNAL, 4)
    lost, _ = _posted_move(odoo_copy, PLAIN_JOURNAL, 5)
    _, after = _posted_move(odoo_copy, PLAIN_JOURNAL, 6)
    odoo_copy.execute("DELETE FROM account_move WHERE id = %s", (lost,))
    result = await _check(odoo_copy, "accounting.sequence_gaps")
    assert result.verdict == "fail" and result.found["missing_numbers"] == 1
    assert f"{before} is followed by {after} (1 missing)" in result.examples[0]


async def test_number_kept_by_a_cancelled_move_is_no_gap(odoo_copy: OdooCopy) -> None:
    move_id, _ = _posted_move(odoo_copy, PLAIN_JOURNAL)
    odoo_copy.execute(
        "UPDATE account_move SET state = 'cancel' WHERE id = %s", (move_id,)
    )
    result = await _check(odoo_copy, "accounting.sequence_gaps")
    assert result.verdict == "pass", result.examples


async def test_posted_move_without_number_fails(odoo_copy: OdooCopy) -> None:
    move_id, _ = _posted_move(odoo_copy, PLAIN_JOURNAL)
    odoo_copy.execute(
        "UPDATE account_move SET name = '/', sequence_number = NULL WHERE id = %s",
        (move_id,),
    )
    result = await _check(odoo_copy, "accounting.sequence_gaps")
    assert result.verdict == "fail" and result.found["posted_without_number"] == 1
    assert f"account_move {move_id} is posted without a number" in " ".join(
        result.examples
    )


async def test_number_posted_twice_fails(odoo_copy: OdooCopy) -> None:
    move_id, move_name = _posted_move(odoo_copy, PLAIN_JOURNAL)
    _drop_unique_numbering(odoo_copy)
    twin = odoo_copy.value("SELECT nextval('account_move_id_seq')")
    odoo_copy.execute(
        "INSERT INTO account_move SELECT (row).* FROM "
        "(SELECT jsonb_populate_record(m, jsonb_build_object('id', %s)) AS row "
        "FROM account_move m WHERE id = %s) copied",
        (twin, move_id),
    )
    result = await _check(odoo_copy, "accounting.duplicate_numbers")
    assert result.verdict == "fail" and result.found["duplicated_numbers"] == 1
    assert result.examples[0].startswith(
        f"{move_name} (account_move {move_id}), {move_name} (account_move {twin})"
    )


async def test_missing_link_breaks_the_hash_chain(odoo_copy: OdooCopy) -> None:
    move_id, _ = _chain_link(odoo_copy, 10)
    odoo_copy.execute("DELETE FROM account_move WHERE id = %s", (move_id,))
    _, follower = _chain_link(odoo_copy, 11)
    result = await _check(odoo_copy, "accounting.hash_chain")
    assert result.verdict == "fail" and result.found["missing_links"] == 1
    assert result.examples[0].startswith(f"{follower} (account_move ")
    assert "is link 11 after link 9" in result.examples[0]


async def test_repeated_link_breaks_the_hash_chain(odoo_copy: OdooCopy) -> None:
    last = odoo_copy.value(
        "SELECT max(secure_sequence_number) FROM account_move WHERE journal_id = %s",
        (LOCKED_JOURNAL,),
    )
    assert isinstance(last, int)
    move_id, _ = _chain_link(odoo_copy, last)
    odoo_copy.execute(
        "UPDATE account_move SET secure_sequence_number = %s WHERE id = %s",
        (last - 1, move_id),
    )
    result = await _check(odoo_copy, "accounting.hash_chain")
    assert result.verdict == "fail" and result.found["duplicate_links"] == 1
    assert result.found["missing_links"] == 0
    assert any(f"account_move {move_id}) repeats" in e for e in result.examples)


async def test_link_without_hash_breaks_the_hash_chain(odoo_copy: OdooCopy) -> None:
    move_id, move_name = _chain_link(odoo_copy, 7)
    odoo_copy.execute(
        "UPDATE account_move SET inalterable_hash = NULL WHERE id = %s", (move_id,)
    )
    result = await _check(odoo_copy, "accounting.hash_chain")
    assert result.verdict == "fail" and result.found["links_without_hash"] == 1
    assert result.examples == [
        f"{move_name} (account_move {move_id}) has no hash, "
        f"journal BILL (account_journal {LOCKED_JOURNAL})"
    ]


async def test_hashed_move_reset_to_draft_breaks_the_chain(odoo_copy: OdooCopy) -> None:
    move_id, move_name = _chain_link(odoo_copy, 3)
    odoo_copy.execute(
        "UPDATE account_move SET state = 'draft' WHERE id = %s", (move_id,)
    )
    result = await _check(odoo_copy, "accounting.hash_chain")
    assert result.verdict == "fail" and result.found["links_not_posted"] == 1
    assert "is no longer posted" in result.examples[0]
    assert result.examples[0].startswith(move_name)


async def test_hash_chain_is_skipped_without_locked_journals(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute("UPDATE account_journal SET restrict_mode_hash_table = false")
    result = await _check(odoo_copy, "accounting.hash_chain")
    assert result.verdict == "skipped"
