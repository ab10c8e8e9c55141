from __future__ import annotations

from odoo_dr.validation import CheckResult
from tests.validation.conftest import OdooCopy

NAME = "project_cost.analytic_lines"
# The newest timesheet: an analytic line booked on a project.
TIMESHEET = "SELECT max(id) FROM account_analytic_line WHERE project_id IS NOT NULL"


async def _project_cost(odoo_copy: OdooCopy) -> CheckResult:
    return (await odoo_copy.validate("project_cost"))[NAME]


def _newest_timesheet(odoo_copy: OdooCopy) -> int:
    return int(str(odoo_copy.value(TIMESHEET)))


async def test_healthy_copy_passes(odoo_copy: OdooCopy) -> None:
    result = await _project_cost(odoo_copy)
    assert result.verdict == "pass", result.summary


async def test_totals_per_project_are_reported(odoo_copy: OdooCopy) -> None:
    lines = odoo_copy.value("SELECT count(*) FROM account_analytic_line")
    hours = odoo_copy.value(
        "SELECT sum(unit_amount) FROM account_analytic_line "
        "WHERE project_id IS NOT NULL"
    )
    result = await _project_cost(odoo_copy)
    assert result.found["analytic_lines"] == lines
    assert result.found["hours"] == hours
    assert float(result.found["cost_eur"] or 0) > 0
    assert "(SITE-0" in result.examples[0] and " h" in result.examples[0]


async def test_line_on_a_project_with_another_account_fails(
    odoo_copy: OdooCopy,
) -> None:
    line = _newest_timesheet(odoo_copy)
    other = odoo_copy.value(
        "SELECT max(a.id) FROM account_analytic_account a, account_analytic_line l "
        "WHERE l.id = %s AND a.id <> l.account_id",
        (line,),
    )
    odoo_copy.execute(
        "UPDATE account_analytic_line SET account_id = %s WHERE id = %s",
        (other, line),
    )
    result = await _project_cost(odoo_copy)
    assert result.verdict == "fail" and not result.critical
    assert result.found["lines_on_another_account"] == 1
    assert result.examples[0].startswith(f"analytic line {line} ")
    assert f"but booked on account SITE-{other:04d}" in result.examples[0]


async def test_line_on_a_missing_project_fails(odoo_copy: OdooCopy) -> None:
    line = _newest_timesheet(odoo_copy)
    odoo_copy.execute(
        "ALTER TABLE account_analytic_line "
        "DROP CONSTRAINT account_analytic_line_project_id_fkey"
    )
    odoo_copy.execute(
        "UPDATE account_analytic_line SET project_id = 9999 WHERE id = %s", (line,)
    )
    result = await _project_cost(odoo_copy)
    assert result.verdict == "fail"
    assert result.found["lines_on_missing_project"] == 1
    assert result.examples[0].endswith("project id 9999 does not exist")


async def test_line_on_a_missing_analytic_account_fails(odoo_copy: OdooCopy) -> None:
    line = _newest_timesheet(odoo_copy)
    odoo_copy.execute(
        "ALTER TABLE account_analytic_line "
        "DROP CONSTRAINT account_analytic_line_account_id_fkey"
    )
    odoo_copy.execute(
        "UPDATE account_analytic_line SET account_id = 9999 WHERE id = %s", (line,)
    )
    result = await _project_cost(odoo_copy)
    assert result.verdict == "fail"
    assert result.found["lines_on_missing_account"] == 1
    assert f"analytic line {line} " in result.examples[0]
    assert "analytic account id 9999 does not exist" in result.examples[0]


async def test_project_whose_analytic_account_is_missing_fails(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute(
        "ALTER TABLE project_project "
        "DROP CONSTRAINT project_project_analytic_account_id_fkey"
    )
    odoo_copy.execute(
        "UPDATE project_project SET analytic_account_id = 9999 WHERE id = 2"
    )
    result = await _project_cost(odoo_copy)
    assert result.verdict == "fail"
    assert result.found["projects_with_missing_account"] == 1
    assert any(
        "(id 2) points to analytic account 9999, which does not exist" in example
        for example in result.examples
    )


async def test_check_is_skipped_without_project_installed(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute("DELETE FROM ir_module_module WHERE name = 'project'")
    result = await _project_cost(odoo_copy)
    assert result.verdict == "skipped"
