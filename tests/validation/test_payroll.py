from __future__ import annotations

import pytest

from odoo_dr.validation import CheckResult
from tests.validation.conftest import OdooCopy

CHECKS = (
    "payroll.newest_runs_complete",
    "payroll.net_adds_up",
    "payroll.runs_closed_whole",
)
# The seed leaves the newest batch of Hartmann Bau 'verify' and closes the rest.
OPEN_RUN = "SELECT id FROM hr_payslip_run WHERE state = 'verify'"
LAST_CLOSED_RUN = (
    "SELECT id FROM hr_payslip_run WHERE state = 'close' AND company_id = 1 "
    "ORDER BY date_end DESC LIMIT 1"
)


async def _payroll(odoo_copy: OdooCopy, name: str) -> CheckResult:
    return (await odoo_copy.validate("payroll"))[name]


def _run(odoo_copy: OdooCopy, query: str) -> int:
    return int(str(odoo_copy.value(query)))


def _first_slip(odoo_copy: OdooCopy, run_query: str, state: str) -> tuple[int, str]:
    """The first payslip in ``state`` of a batch: its id and its number."""
    slip = odoo_copy.value(
        "SELECT min(id) FROM hr_payslip WHERE payslip_run_id = %s AND state = %s",
        (_run(odoo_copy, run_query), state),
    )
    number = odoo_copy.value("SELECT number FROM hr_payslip WHERE id = %s", (slip,))
    return int(str(slip)), str(number)


def _slip_name(odoo_copy: OdooCopy, slip: int) -> str:
    return str(odoo_copy.value("SELECT name FROM hr_payslip WHERE id = %s", (slip,)))


@pytest.mark.parametrize("name", CHECKS)
async def test_healthy_copy_passes(odoo_copy: OdooCopy, name: str) -> None:
    result = await _payroll(odoo_copy, name)
    assert result.verdict == "pass", result.summary


async def test_newest_batches_are_listed_with_their_net(odoo_copy: OdooCopy) -> None:
    result = await _payroll(odoo_copy, "payroll.newest_runs_complete")
    assert result.found["runs_checked"] == 6
    assert (
        "Site crews November 2026 (Hartmann Bau GmbH), verify" in (result.examples[0])
    )


async def test_deduction_line_that_does_not_add_up_fails(odoo_copy: OdooCopy) -> None:
    slip, number = _first_slip(odoo_copy, OPEN_RUN, "verify")
    odoo_copy.execute(
        "UPDATE hr_payslip_line SET total = total - 12.34 "
        "WHERE slip_id = %s AND code = 'HEALTH'",
        (slip,),
    )
    result = await _payroll(odoo_copy, "payroll.net_adds_up")
    assert result.verdict == "fail" and result.critical
    assert result.found["payslips_not_adding_up"] == 1
    assert "do not add up" in result.summary
    assert number in result.examples[0] and "NET line" in result.examples[0]


async def test_net_wage_other_than_the_net_line_fails(odoo_copy: OdooCopy) -> None:
    slip, number = _first_slip(odoo_copy, LAST_CLOSED_RUN, "done")
    odoo_copy.execute(
        "UPDATE hr_payslip SET net_wage = net_wage + 100 WHERE id = %s", (slip,)
    )
    result = await _payroll(odoo_copy, "payroll.net_adds_up")
    assert result.verdict == "fail"
    assert number in result.examples[0] and "its NET line is" in result.examples[0]


async def test_lost_earnings_line_fails(odoo_copy: OdooCopy) -> None:
    slip, number = _first_slip(odoo_copy, OPEN_RUN, "verify")
    odoo_copy.execute(
        "DELETE FROM hr_payslip_line WHERE slip_id = %s AND code = 'SITE'", (slip,)
    )
    result = await _payroll(odoo_copy, "payroll.net_adds_up")
    assert result.verdict == "fail"
    assert number in result.examples[0] and "earnings add up" in result.examples[0]


async def test_payslip_without_net_and_gross_lines_fails(odoo_copy: OdooCopy) -> None:
    slip, number = _first_slip(odoo_copy, OPEN_RUN, "verify")
    odoo_copy.execute(
        "DELETE FROM hr_payslip_line WHERE slip_id = %s AND code IN ('GROSS', 'NET')",
        (slip,),
    )
    result = await _payroll(odoo_copy, "payroll.net_adds_up")
    assert result.verdict == "fail"
    assert result.examples == [
        f"{number} {_slip_name(odoo_copy, slip)} in batch Site crews November 2026 "
        "(Hartmann Bau GmbH): has no NET or no GROSS line"
    ]


async def test_computed_payslip_without_lines_fails(odoo_copy: OdooCopy) -> None:
    slip, number = _first_slip(odoo_copy, OPEN_RUN, "verify")
    odoo_copy.execute("DELETE FROM hr_payslip_line WHERE slip_id = %s", (slip,))
    result = await _payroll(odoo_copy, "payroll.newest_runs_complete")
    assert result.verdict == "fail" and result.critical
    assert result.found["payslips_without_lines"] == 1
    assert number in result.examples[0] and "no payslip lines" in result.examples[0]


async def test_draft_payslip_without_lines_is_counted_not_failed(
    odoo_copy: OdooCopy,
) -> None:
    draft_run = "SELECT id FROM hr_payslip_run WHERE state = 'draft'"
    slip, _ = _first_slip(odoo_copy, draft_run, "draft")
    odoo_copy.execute("DELETE FROM hr_payslip_line WHERE slip_id = %s", (slip,))
    result = await _payroll(odoo_copy, "payroll.newest_runs_complete")
    assert result.verdict == "pass"
    assert result.found["draft_payslips_not_computed"] == 1


async def test_employee_without_payslip_in_newest_batch_fails(
    odoo_copy: OdooCopy,
) -> None:
    slip, _ = _first_slip(odoo_copy, OPEN_RUN, "verify")
    employee = odoo_copy.value(
        "SELECT e.name FROM hr_payslip s JOIN hr_employee e ON e.id = s.employee_id "
        "WHERE s.id = %s",
        (slip,),
    )
    odoo_copy.execute("DELETE FROM hr_payslip WHERE id = %s", (slip,))
    result = await _payroll(odoo_copy, "payroll.newest_runs_complete")
    assert result.verdict == "fail"
    assert result.found["employees_missing"] == 1
    assert result.examples == [
        f"{employee}: paid in the batch before Site crews November 2026 "
        "(Hartmann Bau GmbH), no payslip in it"
    ]


async def test_closed_batch_with_a_payslip_to_verify_fails(
    odoo_copy: OdooCopy,
) -> None:
    _, number = _first_slip(odoo_copy, LAST_CLOSED_RUN, "done")
    odoo_copy.execute(
        "UPDATE hr_payslip SET state = 'verify' WHERE number = %s", (number,)
    )
    result = await _payroll(odoo_copy, "payroll.runs_closed_whole")
    assert result.verdict == "fail" and result.critical
    assert result.found["half_closed_runs"] == 1
    assert result.examples[0].startswith(
        "batch Site crews October 2026 (Hartmann Bau GmbH) is in state close but 1 of"
    )
    assert f"(first: {number})" in result.examples[0]


async def test_open_batch_with_every_payslip_done_fails(odoo_copy: OdooCopy) -> None:
    odoo_copy.execute(
        "UPDATE hr_payslip SET state = 'done' WHERE payslip_run_id = %s",
        (_run(odoo_copy, OPEN_RUN),),
    )
    result = await _payroll(odoo_copy, "payroll.runs_closed_whole")
    assert result.verdict == "fail"
    assert result.examples[0].startswith(
        "batch Site crews November 2026 (Hartmann Bau GmbH) is in state verify but all"
    )


async def test_open_batch_being_validated_slip_by_slip_passes(
    odoo_copy: OdooCopy,
) -> None:
    slip, _ = _first_slip(odoo_copy, OPEN_RUN, "verify")
    odoo_copy.execute("UPDATE hr_payslip SET state = 'done' WHERE id = %s", (slip,))
    result = await _payroll(odoo_copy, "payroll.runs_closed_whole")
    assert result.verdict == "pass"


async def test_checks_are_skipped_without_payroll_installed(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute("DELETE FROM ir_module_module WHERE name = 'hr_payroll'")
    results = await odoo_copy.validate("payroll")
    assert {results[name].verdict for name in CHECKS} == {"skipped"}
