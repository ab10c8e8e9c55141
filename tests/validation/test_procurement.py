from __future__ import annotations

import pytest

from activities.odoo_checks import procurement
from odoo_dr.validation import CheckResult
from tests.validation.conftest import OdooCopy

# The seed's companies: Hartmann Bau approves orders of 25,000 EUR and more
# in two steps; Northgate approves every order in one.
TWO_STEP = 1
ONE_STEP = 2

ORDER_IN_STATE = (
    "SELECT min(id) FROM purchase_order WHERE company_id = %s AND state = %s "
    "AND amount_total BETWEEN %s AND %s"
)


async def _check(copy: OdooCopy, name: str) -> CheckResult:
    return (await copy.validate("procurement"))[name]


def _order(
    copy: OdooCopy, company: int, state: str, low: int = 0, high: int = 10**9
) -> tuple[int, str]:
    """The first order of ``company`` in ``state`` and amount range."""
    order_id = copy.value(ORDER_IN_STATE, (company, state, low, high))
    assert isinstance(order_id, int)
    name = copy.value("SELECT name FROM purchase_order WHERE id = %s", (order_id,))
    return order_id, str(name)


@pytest.mark.parametrize("name", [entry.name for entry in procurement.CHECKS])
async def test_healthy_copy_passes(odoo_copy: OdooCopy, name: str) -> None:
    result = await _check(odoo_copy, name)
    assert result.verdict == "pass", result.summary


async def test_approved_order_over_threshold_without_date_fails(
    odoo_copy: OdooCopy,
) -> None:
    order_id, name = _order(odoo_copy, TWO_STEP, "purchase", low=25_000)
    odoo_copy.execute(
        "UPDATE purchase_order SET date_approve = NULL WHERE id = %s", (order_id,)
    )
    result = await _check(odoo_copy, "procurement.double_validation")
    assert result.verdict == "fail" and result.critical
    assert result.found["without_approval_date"] == 1
    assert result.examples == [
        f"{name} (purchase_order {order_id}, Hartmann Bau GmbH), purchase"
    ]


async def test_order_in_another_currency_counts_as_over_threshold(
    odoo_copy: OdooCopy,
) -> None:
    order_id, name = _order(odoo_copy, TWO_STEP, "done", high=24_999)
    odoo_copy.execute(
        "UPDATE purchase_order SET currency_id = 2, date_approve = NULL WHERE id = %s",
        (order_id,),
    )
    result = await _check(odoo_copy, "procurement.double_validation")
    assert result.verdict == "fail"
    assert result.examples[0].startswith(f"{name} (purchase_order {order_id}")


async def test_one_step_order_without_date_is_no_double_validation_failure(
    odoo_copy: OdooCopy,
) -> None:
    order_id, _ = _order(odoo_copy, ONE_STEP, "purchase")
    odoo_copy.execute(
        "UPDATE purchase_order SET date_approve = NULL WHERE id = %s", (order_id,)
    )
    result = await _check(odoo_copy, "procurement.double_validation")
    assert result.verdict == "pass"


async def test_any_approved_order_without_date_is_reported(
    odoo_copy: OdooCopy,
) -> None:
    order_id, name = _order(odoo_copy, ONE_STEP, "done")
    odoo_copy.execute(
        "UPDATE purchase_order SET date_approve = NULL WHERE id = %s", (order_id,)
    )
    result = await _check(odoo_copy, "procurement.approval_dates")
    assert result.verdict == "fail" and not result.critical
    assert result.examples == [
        f"{name} (purchase_order {order_id}, Northgate Civil Works Ltd), done"
    ]


async def test_queue_figures_count_the_waiting_orders(odoo_copy: OdooCopy) -> None:
    waiting = odoo_copy.value(
        "SELECT count(*) FROM purchase_order WHERE state = 'to approve'"
    )
    result = await _check(odoo_copy, "procurement.approval_queue")
    assert waiting and result.found["waiting"] == waiting


async def test_queue_figures_total_the_waiting_orders(odoo_copy: OdooCopy) -> None:
    total = odoo_copy.value(
        "SELECT sum(amount_total)::float FROM purchase_order "
        "WHERE state = 'to approve' AND currency_id = 1"
    )
    result = await _check(odoo_copy, "procurement.approval_queue")
    assert result.found["waiting_total_EUR"] == pytest.approx(total)


async def test_waiting_order_with_approval_date_fails(odoo_copy: OdooCopy) -> None:
    order_id, name = _order(odoo_copy, TWO_STEP, "to approve")
    odoo_copy.execute(
        "UPDATE purchase_order SET date_approve = date_order + interval '1 day' "
        "WHERE id = %s",
        (order_id,),
    )
    result = await _check(odoo_copy, "procurement.approval_queue")
    assert result.verdict == "fail" and result.found["dated"] == 1
    assert result.examples == [
        f"{name} (purchase_order {order_id}, Hartmann Bau GmbH): "
        "waits with an approval date"
    ]


async def test_waiting_order_below_threshold_fails(odoo_copy: OdooCopy) -> None:
    order_id, name = _order(odoo_copy, TWO_STEP, "to approve")
    odoo_copy.execute(
        "UPDATE purchase_order SET amount_total = 900 WHERE id = %s", (order_id,)
    )
    result = await _check(odoo_copy, "procurement.approval_queue")
    assert result.verdict == "fail" and result.found["below_threshold"] == 1
    assert result.examples[0].endswith("waits below its company's threshold")
    assert result.examples[0].startswith(f"{name} (purchase_order {order_id}")


async def test_queue_of_a_company_that_lost_two_step_approval_fails(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute(
        "UPDATE res_company SET po_double_validation = 'one_step' WHERE id = %s",
        (TWO_STEP,),
    )
    result = await _check(odoo_copy, "procurement.approval_queue")
    assert result.verdict == "fail"
    assert result.found["one_step"] == result.found["waiting"]
    assert "waits in a company that approves in one step" in result.examples[0]


async def test_checks_are_skipped_without_the_purchase_module(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute(
        "UPDATE ir_module_module SET state = 'uninstalled' WHERE name = 'purchase'"
    )
    results = await odoo_copy.validate("procurement")
    verdicts = {results[entry.name].verdict for entry in procurement.CHECKS}
    assert verdicts == {"skipped"}
