from __future__ import annotations

import pytest

from activities.odoo_checks import payables
from odoo_dr.validation import CheckResult
from tests.validation.conftest import OdooCopy


async def _check(copy: OdooCopy, name: str) -> CheckResult:
    return (await copy.validate("payables"))[name]


def _bill(copy: OdooCopy, payment_state: str) -> tuple[int, str]:
    """The first posted vendor bill in ``payment_state``: its id and number."""
    bill_id = copy.value(
        "SELECT min(id) FROM account_move WHERE move_type = 'in_invoice' "
        "AND state = 'posted' AND payment_state = %s",
        (payment_state,),
    )
    assert isinstance(bill_id, int)
    name = copy.value("SELECT name FROM account_move WHERE id = %s", (bill_id,))
    return bill_id, str(name)


@pytest.mark.parametrize("name", [entry.name for entry in payables.CHECKS])
async def test_healthy_copy_passes(odoo_copy: OdooCopy, name: str) -> None:
    result = await _check(odoo_copy, name)
    assert result.verdict == "pass", result.summary


async def test_bill_states_count_posted_bills_by_payment_state(
    odoo_copy: OdooCopy,
) -> None:
    paid = odoo_copy.value(
        "SELECT count(*) FROM account_move WHERE state = 'posted' "
        "AND move_type IN ('in_invoice', 'in_refund') AND payment_state = 'paid'"
    )
    result = await _check(odoo_copy, "payables.bill_states")
    assert result.found["posted_paid"] == paid


async def test_bill_states_give_what_is_still_owed_per_currency(
    odoo_copy: OdooCopy,
) -> None:
    owed = odoo_copy.value(
        "SELECT sum(-amount_residual_signed)::float FROM account_move "
        "WHERE state = 'posted' AND company_id = 2 "
        "AND move_type IN ('in_invoice', 'in_refund')"
    )
    result = await _check(odoo_copy, "payables.bill_states")
    assert result.found["open_GBP"] == pytest.approx(owed)


async def test_payment_state_of_another_version_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "not_paid")
    # 'blocked' is Odoo 18's; the copy is Odoo 17.
    odoo_copy.execute(
        "UPDATE account_move SET payment_state = 'blocked' WHERE id = %s", (bill_id,)
    )
    result = await _check(odoo_copy, "payables.bill_states")
    assert result.verdict == "fail" and not result.critical
    assert result.found["unknown_states"] == 1
    assert result.examples == [
        f"{name} (account_move {bill_id}): state posted, payment state blocked"
    ]


async def test_unknown_bill_state_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "paid")
    odoo_copy.execute(
        "UPDATE account_move SET state = 'approved' WHERE id = %s", (bill_id,)
    )
    result = await _check(odoo_copy, "payables.bill_states")
    assert result.verdict == "fail"
    assert result.examples[0].startswith(
        f"{name} (account_move {bill_id}): state approved"
    )


async def test_total_differing_from_payable_lines_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "paid")
    odoo_copy.execute(
        "UPDATE account_move SET amount_total = amount_total + 100 WHERE id = %s",
        (bill_id,),
    )
    result = await _check(odoo_copy, "payables.bill_totals")
    assert result.verdict == "fail" and result.critical
    assert result.found["totals_differing"] == 1
    assert result.examples[0].startswith(f"{name} (account_move {bill_id}): total ")


async def test_residual_differing_from_payable_lines_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "partial")
    # The payable line lost its partial reconciliation: all of it is open again.
    odoo_copy.execute(
        "UPDATE account_move_line SET amount_residual = balance, "
        "amount_residual_currency = amount_currency "
        "WHERE move_id = %s AND display_type = 'payment_term'",
        (bill_id,),
    )
    result = await _check(odoo_copy, "payables.bill_totals")
    assert result.verdict == "fail" and result.found["residuals_differing"] == 1
    assert result.examples[0].startswith(f"{name} (account_move {bill_id}): residual ")


async def test_bill_shown_paid_while_still_open_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "not_paid")
    odoo_copy.execute(
        "UPDATE account_move SET payment_state = 'paid' WHERE id = %s", (bill_id,)
    )
    result = await _check(odoo_copy, "payables.bill_totals")
    assert result.verdict == "fail" and result.found["payment_states_disagreeing"] == 1
    assert result.examples[0].startswith(
        f"{name} (account_move {bill_id}): payment state paid with "
    )


async def test_bill_without_payable_line_fails(odoo_copy: OdooCopy) -> None:
    bill_id, name = _bill(odoo_copy, "paid")
    odoo_copy.execute(
        "DELETE FROM account_move_line "
        "WHERE move_id = %s AND display_type = 'payment_term'",
        (bill_id,),
    )
    result = await _check(odoo_copy, "payables.bill_totals")
    assert result.verdict == "fail"
    assert f"{name} (account_move {bill_id}): total " in result.examples[0]
    assert "but payable lines 0.00" in result.examples[0]
