import pytest

from odoo_dr.odoo_versions import schema_for


@pytest.mark.parametrize(
    ("version", "column"),
    [
        ("16.0", "analytic_account_id"),
        ("17.0", "analytic_account_id"),
        ("18.0", "account_id"),
    ],
)
def test_project_analytic_column_by_version(version, column):
    assert schema_for(version).project_analytic_column == column


@pytest.mark.parametrize("version", ["16.0", "17.0", "18.0"])
def test_open_and_closed_payslip_runs_are_disjoint_known_states(version):
    schema = schema_for(version)
    assert set(schema.payslip_run_open_states).isdisjoint(
        schema.payslip_run_closed_states
    )
    assert set(schema.payslip_run_open_states) <= set(schema.payslip_run_states)
    assert set(schema.payslip_run_closed_states) <= set(schema.payslip_run_states)


def test_odoo_18_numbers_payslip_run_states():
    assert schema_for("18.0").is_open_payslip_run("01_ready")
    assert not schema_for("18.0").is_open_payslip_run("draft")
    assert schema_for("17.0").is_open_payslip_run("draft")


def test_odoo_18_drops_cron_numbercall_and_adds_blocked_payments():
    assert "numbercall" in schema_for("17.0").cron_columns
    assert "numbercall" not in schema_for("18.0").cron_columns
    assert "blocked" in schema_for("18.0").payment_states
    assert "blocked" not in schema_for("17.0").payment_states


def test_unknown_version_is_refused():
    with pytest.raises(ValueError, match="Odoo '15.0' is not supported"):
        schema_for("15.0")
