"""Procurement: purchase orders and the second approval that large ones need.

A construction firm commits most of its money through purchase orders:
concrete, steel, crane hire, subcontract packages. Where a company asks for
two-step approval (``res_company.po_double_validation = 'two_step'``), an
order at or over ``po_double_validation_amount`` waits in 'to approve' until
a manager approves it, and Odoo stamps ``date_approve`` when it does (it
stamps every confirmed order, also those confirmed in one step). A confirmed
order over the threshold without that date has no proof of its approval,
which auditors and the firm's own signing rules require. The orders waiting
for approval are a queue the managers work through after the recovery: it
must hold exactly the orders that need them.

The threshold is in the company's currency. Odoo converts it at the order's
date to compare with an order in another currency; the exchange rates are
not read here, so such orders count as over the threshold where that is the
safe side (proof of approval) and are left out where it is not (the queue).
"""

from __future__ import annotations

from typing import Any

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import EXAMPLES, CheckResult, Figure

# Odoo's states of an order that was approved (confirmed, or also locked).
APPROVED_STATES = ("purchase", "done")
WAITING_STATE = "to approve"

# Orders of two-step companies that needed the second approval, or might
# have (another currency), now approved.
_OVER_THRESHOLD = """
SELECT order_.id, order_.name, company.name, order_.state,
       count(*) FILTER (WHERE order_.date_approve IS NULL) OVER (),
       count(*) OVER ()
FROM purchase_order order_
JOIN res_company company ON company.id = order_.company_id
WHERE order_.state = ANY(%s)
  AND company.po_double_validation = 'two_step'
  AND (order_.amount_total >= company.po_double_validation_amount
       OR order_.currency_id <> company.currency_id)
ORDER BY order_.date_approve IS NULL DESC, order_.id
LIMIT %s
"""

_WITHOUT_APPROVAL_DATE = """
SELECT order_.id, order_.name, company.name, order_.state,
       count(*) FILTER (WHERE order_.date_approve IS NULL) OVER (),
       count(*) OVER ()
FROM purchase_order order_
JOIN res_company company ON company.id = order_.company_id
WHERE order_.state = ANY(%s)
ORDER BY order_.date_approve IS NULL DESC, order_.id
LIMIT %s
"""

# The waiting orders by currency, then those that should not be waiting: an
# approval date already set, a company that approves in one step, an amount
# below the threshold (compared in the company's currency only).
_QUEUE = """
SELECT currency.name, count(*), sum(order_.amount_total), min(order_.date_order)
FROM purchase_order order_
JOIN res_currency currency ON currency.id = order_.currency_id
WHERE order_.state = %s
GROUP BY currency.name
"""
_MISPLACED = """
WITH waiting AS (
    SELECT order_.id, order_.name, company.name AS company,
           order_.date_approve IS NOT NULL AS approved,
           company.po_double_validation IS DISTINCT FROM 'two_step' AS one_step,
           company.po_double_validation = 'two_step'
               AND order_.currency_id = company.currency_id
               AND order_.amount_total < company.po_double_validation_amount
               AS below_threshold
    FROM purchase_order order_
    JOIN res_company company ON company.id = order_.company_id
    WHERE order_.state = %s
)
SELECT id, name, company, approved, one_step, below_threshold,
       count(*) FILTER (WHERE approved) OVER (),
       count(*) FILTER (WHERE one_step) OVER (),
       count(*) FILTER (WHERE below_threshold) OVER ()
FROM waiting
WHERE approved OR one_step OR below_threshold
ORDER BY id
LIMIT %s
"""


def order_label(name: str, order_id: int, company: str) -> str:
    """An order as a person finds it in Odoo: its reference, then its row."""
    return f"{name} (purchase_order {order_id}, {company})"


def _approved_states(ctx: CheckContext) -> list[str]:
    return [state for state in APPROVED_STATES if state in ctx.schema.purchase_states]


@check("procurement.double_validation", "procurement", module="purchase")
async def double_validation(ctx: CheckContext, this: Check) -> CheckResult:
    """Every approved order over its company's threshold has an approval date.

    Only companies with two-step approval count; an order in another currency
    than its company's counts as over the threshold. Orders confirmed in an
    Odoo older than 12, which did not stamp the date, fail here too when they
    were migrated without one.
    """
    rows = await ctx.rows(_OVER_THRESHOLD, (_approved_states(ctx), EXAMPLES))
    undated, approved = rows[0][4:6] if rows else (0, 0)
    figures = {"approved_over_threshold": approved, "without_approval_date": undated}
    if undated:
        return this.result(
            "fail",
            "approved orders over the double-validation threshold without an "
            f"approval date: {undated} of {approved}",
            found=figures,
            expected={"without_approval_date": 0},
            examples=[
                f"{order_label(name, order_id, company)}, {state}"
                for order_id, name, company, state, _, _ in rows[:undated]
            ],
            hint="nothing proves these orders had their second approval: compare "
            "them with production's purchase orders and chatter, restore the "
            "approval dates, and have a manager review any order that cannot be "
            "proven before goods are received or bills paid against it",
        )
    return this.result(
        "pass",
        f"all {approved} approved orders over the threshold carry their approval date",
        found=figures,
    )


@check("procurement.approval_dates", "procurement", critical=False, module="purchase")
async def approval_dates(ctx: CheckContext, this: Check) -> CheckResult:
    """Every approved order has an approval date, whatever its amount.

    Odoo stamps ``date_approve`` on every order it confirms, so a confirmed
    order without one was damaged. Below the threshold no second approval is
    at stake, so this only warns; the orders over it are also failed by
    ``procurement.double_validation``.
    """
    rows = await ctx.rows(_WITHOUT_APPROVAL_DATE, (_approved_states(ctx), EXAMPLES))
    undated, approved = rows[0][4:6] if rows else (0, 0)
    figures = {"approved_orders": approved, "without_approval_date": undated}
    if undated:
        return this.result(
            "fail",
            f"approved orders without an approval date: {undated} of {approved}",
            found=figures,
            expected={"without_approval_date": 0},
            examples=[
                f"{order_label(name, order_id, company)}, {state}"
                for order_id, name, company, state, _, _ in rows[:undated]
            ],
            hint="restore the approval dates from production (the order's "
            "chatter shows when it was confirmed); vendor lead times and "
            "purchase reports read them",
        )
    return this.result(
        "pass",
        f"all {approved} approved orders carry their approval date",
        found=figures,
    )


@check("procurement.approval_queue", "procurement", critical=False, module="purchase")
async def approval_queue(ctx: CheckContext, this: Check) -> CheckResult:
    """The orders waiting in 'to approve' are those that need a second approval.

    A waiting order that already has an approval date was approved and came
    back (an order cancelled and confirmed again keeps its old date, so look
    at its chatter before restoring anything); one of a company that approves
    in one step, or below its company's threshold, should not wait at all. A
    whole queue flagged one-step usually means the company's approval setting
    was lost, and new large orders now go through unapproved.
    """
    queue = await ctx.rows(_QUEUE, (WAITING_STATE,))
    figures = _queue_figures(queue)
    rows = await ctx.rows(_MISPLACED, (WAITING_STATE, EXAMPLES))
    approved, one_step, below = rows[0][6:9] if rows else (0, 0, 0)
    figures |= {"dated": approved, "one_step": one_step, "below_threshold": below}
    waiting = figures["waiting"]
    if rows:
        return this.result(
            "fail",
            f"orders waiting for approval that should not: with an approval date "
            f"{approved}, of a one-step company {one_step}, below the threshold "
            f"{below} (of {waiting} waiting)",
            found=figures,
            expected={"dated": 0, "one_step": 0, "below_threshold": 0},
            examples=[_queue_example(*row[:6]) for row in rows],
            hint="compare the queue with production before managers approve "
            "from it; if the company's purchase approval setting changed, "
            "restore it (Purchase settings, Order Approval)",
        )
    return this.result(
        "pass",
        f"{waiting} orders wait for a second approval, as they should",
        found=figures,
    )


def _queue_figures(rows: list[tuple[Any, ...]]) -> dict[str, Figure]:
    """How many orders wait, since when, and their total per currency."""
    figures: dict[str, Figure] = {"waiting": sum(row[1] for row in rows)}
    oldest = min((row[3] for row in rows), default=None)
    figures["oldest_order_date"] = oldest.isoformat() if oldest else None
    for currency, _, total, _ in sorted(rows):
        figures[f"waiting_total_{currency}"] = float(round(total, 2))
    return figures


def _queue_example(
    order_id: int,
    name: str,
    company: str,
    approved: bool,
    one_step: bool,
    below_threshold: bool,
) -> str:
    faults = []
    if approved:
        faults.append("waits with an approval date")
    if one_step:
        faults.append("waits in a company that approves in one step")
    if below_threshold:
        faults.append("waits below its company's threshold")
    return f"{order_label(name, order_id, company)}: {'; '.join(faults)}"


CHECKS: tuple[Check, ...] = (double_validation, approval_dates, approval_queue)
