"""Payables: what the firm owes its suppliers and subcontractors, and how much.

A construction firm lives on its payment runs: subcontractors and plant hire
are paid from the open vendor bills, and a bill that shows "paid" while its
payable line is still open is paid never, one that shows open while settled
is paid twice. After a recovery these checks give the accounts payable lead
the bills by state and payment state with their totals, and prove that each
posted bill's total and residual are those of its payable (payment term)
lines, which is what reconciliation and the payment run read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from activities.odoo_checks.accounting import move_label
from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import EXAMPLES, CheckResult, Figure

# Odoo's states of a journal entry, the same in every supported version.
MOVE_STATES = ("draft", "posted", "cancel")

# Per type, state, payment state and company currency: how many bills, and
# what they amount to in the company's currency, refunds counted negative.
_BY_STATE = """
SELECT move.move_type, move.state, move.payment_state, currency.name, count(*),
       sum(-move.amount_total_signed), sum(-move.amount_residual_signed)
FROM account_move move
JOIN res_company company ON company.id = move.company_id
JOIN res_currency currency ON currency.id = company.currency_id
WHERE move.move_type IN ('in_invoice', 'in_refund')
GROUP BY 1, 2, 3, 4
"""
_UNKNOWN_STATES = """
SELECT id, name, state, payment_state
FROM account_move
WHERE move_type IN ('in_invoice', 'in_refund')
  AND (state IS NULL OR state <> ALL(%s)
       OR payment_state IS NULL OR payment_state <> ALL(%s))
ORDER BY id
LIMIT %s
"""

_POSTED_BILLS = """
SELECT count(*) FROM account_move
WHERE state = 'posted' AND move_type IN ('in_invoice', 'in_refund')
"""
# A bill's payable lines hold what it is worth and what is still owed, in the
# bill's currency, negative for a bill and positive for a refund. The payment
# state must agree with the residual: nothing owed once paid, in payment or
# reversed; all of it when not paid; some of it when partly paid.
_TOTALS = """
WITH bills AS (
    SELECT move.id, move.name, move.payment_state,
           round(move.amount_total, 2) AS total,
           round(move.amount_residual, 2) AS residual,
           round(CASE move.move_type WHEN 'in_refund' THEN 1 ELSE -1 END
                 * coalesce(sum(line.amount_currency), 0), 2) AS terms_total,
           round(CASE move.move_type WHEN 'in_refund' THEN 1 ELSE -1 END
                 * coalesce(sum(line.amount_residual_currency), 0), 2)
               AS terms_residual
    FROM account_move move
    LEFT JOIN account_move_line line
           ON line.move_id = move.id AND line.display_type = 'payment_term'
    WHERE move.state = 'posted' AND move.move_type IN ('in_invoice', 'in_refund')
    GROUP BY move.id
), faults AS (
    SELECT bills.*,
           total IS DISTINCT FROM terms_total AS total_differs,
           residual IS DISTINCT FROM terms_residual AS residual_differs,
           CASE
               WHEN payment_state IN ('paid', 'in_payment', 'reversed')
                   THEN residual <> 0
               WHEN payment_state = 'not_paid' THEN residual <> total
               WHEN payment_state = 'partial'
                   THEN residual <= 0 OR residual >= total
               ELSE false
           END AS state_disagrees
    FROM bills
)
SELECT id, name, payment_state, total, residual, terms_total, terms_residual,
       total_differs, residual_differs, state_disagrees,
       count(*) FILTER (WHERE total_differs) OVER (),
       count(*) FILTER (WHERE residual_differs) OVER (),
       count(*) FILTER (WHERE state_disagrees) OVER ()
FROM faults
WHERE total_differs OR residual_differs OR state_disagrees
ORDER BY id
LIMIT %s
"""


@check("payables.bill_states", "payables", critical=False, module="account")
async def bill_states(ctx: CheckContext, this: Check) -> CheckResult:
    """Vendor bills and refunds by state and payment state, with their totals.

    The figures are what the accounts payable lead compares with production:
    counts per state, posted bills per payment state, and per company
    currency the posted total and what is still owed, refunds deducted. A
    state or payment state the Odoo version does not know fails.
    """
    rows = await ctx.rows(_BY_STATE)
    figures = _state_figures(rows)
    known = ctx.schema.payment_states
    unknown = sum(
        count
        for _, state, payment_state, _, count, _, _ in rows
        if state not in MOVE_STATES or payment_state not in known
    )
    figures["unknown_states"] = unknown
    if unknown:
        examples = await ctx.rows(
            _UNKNOWN_STATES, (list(MOVE_STATES), list(known), EXAMPLES)
        )
        return this.result(
            "fail",
            f"vendor bills in a state or payment state Odoo {ctx.schema.version} "
            f"does not know: {unknown}",
            found=figures,
            expected={"unknown_states": 0},
            examples=[
                f"{move_label(name, move_id)}: state {state}, "
                f"payment state {payment_state}"
                for move_id, name, state, payment_state in examples
            ],
            hint="these bills come from another Odoo version or were damaged; "
            "compare them with production and check odoo.version in the inventory",
        )
    return this.result(
        "pass",
        f"{figures['vendor_bills']} vendor bills and {figures['vendor_refunds']} "
        "refunds, all in known states",
        found=figures,
    )


def _state_figures(rows: list[tuple[Any, ...]]) -> dict[str, Figure]:
    """Counts by type and state, posted by payment state, money per currency."""
    counts: Counter[str] = Counter()
    money: defaultdict[str, Decimal] = defaultdict(Decimal)
    for move_type, state, payment_state, currency, count, total, residual in rows:
        kind = "vendor_refunds" if move_type == "in_refund" else "vendor_bills"
        counts[kind] += count
        counts[str(state)] += count
        if state == "posted":
            counts[f"posted_{payment_state}"] += count
            money[f"posted_total_{currency}"] += total or 0
            money[f"open_{currency}"] += residual or 0
    figures: dict[str, Figure] = {"vendor_bills": 0, "vendor_refunds": 0}
    figures.update(sorted(counts.items()))
    figures.update(
        (key, float(round(value, 2))) for key, value in sorted(money.items())
    )
    return figures


@check("payables.bill_totals", "payables", module="account")
async def bill_totals(ctx: CheckContext, this: Check) -> CheckResult:
    """Each posted bill's total and residual are those of its payable lines.

    ``amount_total`` must equal what the payment term lines carry and
    ``amount_residual`` what is still open on them (both in the bill's
    currency, to the cent), and the payment state must agree with the
    residual. A bill without payable lines has a total of nothing.
    """
    (posted,) = await ctx.one(_POSTED_BILLS)
    rows = await ctx.rows(_TOTALS, (EXAMPLES,))
    totals, residuals, states = rows[0][10:] if rows else (0, 0, 0)
    figures = {
        "posted_bills": posted,
        "totals_differing": totals,
        "residuals_differing": residuals,
        "payment_states_disagreeing": states,
    }
    if rows:
        return this.result(
            "fail",
            f"posted vendor bills disagreeing with their payable lines: "
            f"total {totals}, residual {residuals}, payment state {states} "
            f"(of {posted})",
            found=figures,
            expected={
                "totals_differing": 0,
                "residuals_differing": 0,
                "payment_states_disagreeing": 0,
            },
            examples=[_bill_example(*row[:10]) for row in rows],
            hint="hold the payment run: these bills would be paid wrongly or "
            "twice. Compare them with production and restore the lost "
            "reconciliations or lines before paying from this copy",
        )
    return this.result(
        "pass",
        f"all {posted} posted vendor bills agree with their payable lines",
        found=figures,
    )


def _bill_example(
    move_id: int,
    name: str | None,
    payment_state: str | None,
    total: Decimal,
    residual: Decimal,
    terms_total: Decimal,
    terms_residual: Decimal,
    total_differs: bool,
    residual_differs: bool,
    state_disagrees: bool,
) -> str:
    faults = []
    if total_differs:
        faults.append(f"total {total} but payable lines {terms_total}")
    if residual_differs:
        faults.append(f"residual {residual} but open on payable lines {terms_residual}")
    if state_disagrees:
        faults.append(f"payment state {payment_state} with {residual} of {total} open")
    return f"{move_label(name, move_id)}: {'; '.join(faults)}"


CHECKS: tuple[Check, ...] = (bill_states, bill_totals)
