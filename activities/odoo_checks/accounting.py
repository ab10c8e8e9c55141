"""Accounting: are the books of the recovered database whole?

A journal entry whose debits and credits differ, or a posted entry that lost
its lines, puts every report built on the ledger out (trial balance, VAT
return, the payables a construction firm owes its subcontractors). A gap or a
duplicate in an entry sequence is what a tax auditor asks about first: Odoo
lets only the last number of a sequence be deleted and refuses a second
posted entry with the same number, so after a restore either means lost or
damaged rows. Where a journal is locked with Odoo's hash chain
(``restrict_mode_hash_table``), a missing link makes the chain unprovable.

The hash chain check reads the chain's structure only: numbering without
gap or duplicate and a hash on every link. It does not recompute the hashes,
whose exact input string is Odoo's business (and the sandbox's differs);
proving each hash is left to Odoo's own integrity report, run after the
checks pass. It follows Odoo 16 and 17, which number every hashed entry
of a journal with ``secure_sequence_number``. Odoo 18, as far as its source
was read (not run), chains per journal and sequence prefix and hashes entries
only when a person secures them; ``odoo_dr.odoo_versions`` does not describe
that difference yet, so on Odoo 18 this check can report a sound chain as
broken.
"""

from __future__ import annotations

from decimal import Decimal

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import EXAMPLES, CheckResult

_POSTED = "SELECT count(*) FROM account_move WHERE state = 'posted'"

# Per posted entry, debits against credits and the balance, both rounded to
# the cent; the count of such entries rides on every row.
_UNBALANCED = """
SELECT move.id, move.name, sum(line.debit), sum(line.credit), count(*) OVER ()
FROM account_move move
JOIN account_move_line line ON line.move_id = move.id
WHERE move.state = 'posted'
GROUP BY move.id
HAVING round(sum(line.debit), 2) <> round(sum(line.credit), 2)
    OR round(sum(line.balance), 2) <> 0
ORDER BY move.id
LIMIT %s
"""

_WITHOUT_LINES = """
SELECT move.id, move.name, count(*) OVER ()
FROM account_move move
WHERE move.state = 'posted'
  AND NOT EXISTS (SELECT 1 FROM account_move_line line WHERE line.move_id = move.id)
ORDER BY move.id
LIMIT %s
"""

# Numbers held per journal and prefix: every entry that got a number keeps
# it, posted or not (reset to draft, cancelled), so only a number nobody
# holds is a gap. A posted entry without a number is listed with them.
_SEQUENCES = """
SELECT count(*), coalesce(sum(posted), 0)::bigint
FROM (
    SELECT count(*) FILTER (WHERE state = 'posted') AS posted
    FROM account_move
    WHERE name <> '/' AND sequence_number IS NOT NULL
    GROUP BY journal_id, sequence_prefix
) sequences
"""
_GAPS = """
WITH neighbours AS (
    SELECT journal_id, name, sequence_number,
           lag(sequence_number) OVER sequence AS previous_number,
           lag(name) OVER sequence AS previous_name
    FROM account_move
    WHERE name <> '/' AND sequence_number IS NOT NULL
    WINDOW sequence AS (PARTITION BY journal_id, sequence_prefix
                        ORDER BY sequence_number)
), faults AS (
    SELECT journal_id, previous_name, name, NULL::integer AS move_id,
           sequence_number - previous_number - 1 AS missing
    FROM neighbours
    WHERE sequence_number - previous_number > 1
    UNION ALL
    SELECT journal_id, NULL, name, id, 0
    FROM account_move
    WHERE state = 'posted'
      AND (name IS NULL OR name = '/' OR sequence_number IS NULL)
)
SELECT journal.code, faults.journal_id, faults.previous_name, faults.name,
       faults.move_id, faults.missing,
       count(*) FILTER (WHERE faults.move_id IS NULL) OVER (),
       sum(faults.missing) OVER ()::bigint,
       count(*) FILTER (WHERE faults.move_id IS NOT NULL) OVER ()
FROM faults
JOIN account_journal journal ON journal.id = faults.journal_id
ORDER BY faults.journal_id, faults.name
LIMIT %s
"""

_DUPLICATES = """
WITH repeated AS (
    SELECT journal_id, sequence_prefix, sequence_number
    FROM account_move
    WHERE state = 'posted' AND sequence_number IS NOT NULL
    GROUP BY journal_id, sequence_prefix, sequence_number
    HAVING count(*) > 1
)
SELECT journal.code, move.journal_id,
       array_agg(move.name ORDER BY move.id), array_agg(move.id ORDER BY move.id),
       count(*) OVER (), sum(count(*) - 1) OVER ()::bigint
FROM repeated
JOIN account_move move USING (journal_id, sequence_prefix, sequence_number)
JOIN account_journal journal ON journal.id = move.journal_id
WHERE move.state = 'posted'
GROUP BY journal.code, move.journal_id, move.sequence_prefix, move.sequence_number
ORDER BY move.journal_id, move.sequence_prefix, move.sequence_number
LIMIT %s
"""

# The links of every hash-locked journal in chain order, each judged against
# the link before it.
_CHAINS = """
SELECT count(DISTINCT journal.id), count(move.id)
FROM account_journal journal
LEFT JOIN account_move move
       ON move.journal_id = journal.id AND move.secure_sequence_number IS NOT NULL
WHERE journal.restrict_mode_hash_table
"""
_BROKEN_LINKS = """
WITH links AS (
    SELECT move.journal_id, move.id, move.name, move.state,
           move.secure_sequence_number AS number,
           coalesce(move.inalterable_hash, '') = '' AS unhashed,
           lag(move.secure_sequence_number) OVER (
               PARTITION BY move.journal_id
               ORDER BY move.secure_sequence_number, move.id) AS previous
    FROM account_move move
    JOIN account_journal journal ON journal.id = move.journal_id
    WHERE journal.restrict_mode_hash_table
      AND move.secure_sequence_number IS NOT NULL
), faults AS (
    SELECT links.*,
           number = previous AS duplicate,
           greatest(number - coalesce(previous, 0) - 1, 0) AS missing,
           state <> 'posted' AS unposted
    FROM links
)
SELECT journal.code, faults.journal_id, faults.id, faults.name, faults.number,
       faults.previous, faults.duplicate, faults.missing, faults.unhashed,
       faults.unposted,
       count(*) FILTER (WHERE faults.duplicate) OVER (),
       sum(faults.missing) OVER ()::bigint,
       count(*) FILTER (WHERE faults.unhashed) OVER (),
       count(*) FILTER (WHERE faults.unposted) OVER ()
FROM faults
JOIN account_journal journal ON journal.id = faults.journal_id
WHERE faults.duplicate OR faults.missing > 0 OR faults.unhashed OR faults.unposted
ORDER BY faults.journal_id, faults.number, faults.id
LIMIT %s
"""


def move_label(name: str | None, move_id: int) -> str:
    """An entry as a person finds it in Odoo: its number, then its row."""
    if not name or name == "/":
        return f"unnumbered entry (account_move {move_id})"
    return f"{name} (account_move {move_id})"


def _journal(code: str, journal_id: int) -> str:
    return f"journal {code} (account_journal {journal_id})"


@check("accounting.balanced_moves", "accounting", module="account")
async def balanced_moves(ctx: CheckContext, this: Check) -> CheckResult:
    """Every posted entry's debits equal its credits, to the cent."""
    (posted,) = await ctx.one(_POSTED)
    rows = await ctx.rows(_UNBALANCED, (EXAMPLES,))
    unbalanced = rows[0][-1] if rows else 0
    figures = {"posted_moves": posted, "unbalanced_moves": unbalanced}
    if unbalanced:
        return this.result(
            "fail",
            f"posted entries whose debits differ from their credits: {unbalanced} "
            f"of {posted}",
            found=figures,
            expected={"unbalanced_moves": 0},
            examples=[
                f"{move_label(name, move_id)}: debit {_cents(debit)}, "
                f"credit {_cents(credit)}"
                for move_id, name, debit, credit, _ in rows
            ],
            hint="the ledger is damaged: compare these entries with production "
            "or an earlier backup before anyone reports or pays from this copy",
        )
    return this.result(
        "pass", f"all {posted} posted journal entries balance", found=figures
    )


@check("accounting.posted_moves_have_lines", "accounting", module="account")
async def posted_moves_have_lines(ctx: CheckContext, this: Check) -> CheckResult:
    """No posted entry has lost all its lines."""
    (posted,) = await ctx.one(_POSTED)
    rows = await ctx.rows(_WITHOUT_LINES, (EXAMPLES,))
    empty = rows[0][-1] if rows else 0
    figures = {"posted_moves": posted, "moves_without_lines": empty}
    if empty:
        return this.result(
            "fail",
            f"posted entries without lines: {empty} of {posted}",
            found=figures,
            expected={"moves_without_lines": 0},
            examples=[move_label(name, move_id) for move_id, name, _ in rows],
            hint="account_move_line rows are missing: restore from a backup "
            "taken before the loss, or to a later point in time",
        )
    return this.result(
        "pass", f"all {posted} posted journal entries have lines", found=figures
    )


@check("accounting.sequence_gaps", "accounting", module="account")
async def sequence_gaps(ctx: CheckContext, this: Check) -> CheckResult:
    """Entry numbers run without gaps in each journal and sequence prefix.

    A number held by an entry that was reset to draft or cancelled is not a
    gap: Odoo keeps the name. The first number of a sequence is taken as its
    start, so numbers lost before it cannot be seen. A posted entry that has
    no number at all is a fault as well.
    """
    sequences, numbered = await ctx.one(_SEQUENCES)
    rows = await ctx.rows(_GAPS, (EXAMPLES,))
    gaps, missing, unnumbered = rows[0][6:9] if rows else (0, 0, 0)
    figures = {
        "sequences": sequences,
        "posted_numbered_moves": numbered,
        "gaps": gaps,
        "missing_numbers": missing,
        "posted_without_number": unnumbered,
    }
    if gaps or unnumbered:
        return this.result(
            "fail",
            f"entry numbers missing: {missing} (in {gaps} gaps); posted entries "
            f"without a number: {unnumbered}",
            found=figures,
            expected={"gaps": 0, "posted_without_number": 0},
            examples=[_gap_example(*row[:6]) for row in rows],
            hint="entries were lost or renumbered: find the missing numbers in "
            "production or an earlier backup, and restore to a point that has "
            "them before the journals are used",
        )
    return this.result(
        "pass",
        f"{sequences} entry sequences run without gaps",
        found=figures,
    )


def _gap_example(
    code: str,
    journal_id: int,
    previous: str | None,
    name: str | None,
    move_id: int | None,
    missing: int,
) -> str:
    journal = _journal(code, journal_id)
    if move_id is not None:
        return f"account_move {move_id} is posted without a number, {journal}"
    return f"{previous} is followed by {name} ({missing} missing), {journal}"


@check("accounting.duplicate_numbers", "accounting", module="account")
async def duplicate_numbers(ctx: CheckContext, this: Check) -> CheckResult:
    """No two posted entries share a number in a journal and sequence prefix.

    Odoo's unique index on (journal, prefix, number) of posted entries makes
    this impossible in a healthy database; a damaged index or a copy restored
    beside its original is what lets it happen.
    """
    sequences, numbered = await ctx.one(_SEQUENCES)
    rows = await ctx.rows(_DUPLICATES, (EXAMPLES,))
    numbers, extra = (rows[0][4], rows[0][5]) if rows else (0, 0)
    figures = {
        "posted_numbered_moves": numbered,
        "duplicated_numbers": numbers,
        "extra_moves": extra,
    }
    if numbers:
        return this.result(
            "fail",
            f"entry numbers held by more than one posted entry: {numbers}",
            found=figures,
            expected={"duplicated_numbers": 0},
            examples=[
                ", ".join(map(move_label, names, ids)) + f" in {_journal(code, jid)}"
                for code, jid, names, ids, _, _ in rows
            ],
            hint="reindex account_move (its unique indexes may be corrupt) and "
            "compare the duplicates with production: one of each pair was "
            "restored twice or overwritten",
        )
    return this.result(
        "pass",
        f"no posted entry number is used twice in {sequences} sequences",
        found=figures,
    )


@check("accounting.hash_chain", "accounting", module="account")
async def hash_chain(ctx: CheckContext, this: Check) -> CheckResult:
    """Each hash-locked journal's chain runs 1..N, every link hashed and posted.

    A duplicate or missing ``secure_sequence_number``, a link without its
    ``inalterable_hash`` or a hashed entry that is no longer posted (Odoo
    refuses to reset one) breaks the chain. The hashes themselves are not
    recomputed; Odoo's integrity report does that.
    """
    journals, links = await ctx.one(_CHAINS)
    if not journals:
        return this.result(
            "skipped", "no journal is locked with a hash chain", found={"journals": 0}
        )
    rows = await ctx.rows(_BROKEN_LINKS, (EXAMPLES,))
    duplicated, missing, unhashed, unposted = rows[0][10:] if rows else (0, 0, 0, 0)
    figures = {
        "chained_journals": journals,
        "chained_moves": links,
        "duplicate_links": duplicated,
        "missing_links": missing,
        "links_without_hash": unhashed,
        "links_not_posted": unposted,
    }
    if rows:
        return this.result(
            "fail",
            f"hash chain broken: links missing {missing}, repeated {duplicated}, "
            f"without hash {unhashed}, no longer posted {unposted}",
            found=figures,
            expected={
                "duplicate_links": 0,
                "missing_links": 0,
                "links_without_hash": 0,
                "links_not_posted": 0,
            },
            examples=[_link_example(*row[:10]) for row in rows],
            hint="the locked journal no longer proves its entries unaltered: "
            "restore from a backup whose chain is whole, and keep this copy "
            "away from auditors until Odoo's integrity report passes",
        )
    return this.result(
        "pass",
        f"{journals} hash-locked journals chain {links} entries without a break",
        found=figures,
    )


def _link_example(
    code: str,
    journal_id: int,
    move_id: int,
    name: str | None,
    number: int,
    previous: int | None,
    duplicate: bool,
    missing: int,
    unhashed: bool,
    unposted: bool,
) -> str:
    faults = []
    if duplicate:
        faults.append(f"repeats link {number}")
    if missing:
        faults.append(f"is link {number} after link {previous or 0}")
    if unhashed:
        faults.append("has no hash")
    if unposted:
        faults.append("is no longer posted")
    where = _journal(code, journal_id)
    return f"{move_label(name, move_id)} {' and '.join(faults)}, {where}"


def _cents(amount: Decimal | None) -> str:
    return f"{amount or 0:.2f}"


CHECKS: tuple[Check, ...] = (
    balanced_moves,
    posted_moves_have_lines,
    sequence_gaps,
    duplicate_numbers,
    hash_chain,
)
