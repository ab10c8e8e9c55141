import psycopg
import pytest

from sandbox import odoo_schema


def _columns(conninfo: str, table: str) -> dict[str, str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s",
            (table,),
        ).fetchall()
    return dict(rows)


@pytest.fixture
def schema_database(database: str) -> str:
    with psycopg.connect(database) as conn:
        odoo_schema.create_tables(conn)
        odoo_schema.add_constraints(conn)
    return database


def test_translatable_names_are_jsonb_as_in_odoo_17(schema_database: str) -> None:
    for table in ("project_project", "account_account", "account_journal"):
        assert _columns(schema_database, table)["name"] == "jsonb"


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("project_project", {"analytic_account_id", "company_id", "partner_id"}),
        (
            "account_move",
            {
                "move_type",
                "state",
                "payment_state",
                "amount_total",
                "amount_residual",
                "journal_id",
                "sequence_prefix",
                "sequence_number",
                "inalterable_hash",
                "secure_sequence_number",
                "create_date",
                "write_date",
            },
        ),
        (
            "account_move_line",
            {
                "debit",
                "credit",
                "balance",
                "amount_residual",
                "parent_state",
                "display_type",
                "account_id",
                "move_id",
                "partner_id",
            },
        ),
        ("res_company", {"po_double_validation", "po_double_validation_amount"}),
        ("account_journal", {"restrict_mode_hash_table"}),
        (
            "ir_cron",
            {
                "cron_name",
                "active",
                "interval_number",
                "interval_type",
                "numbercall",
                "doall",
                "nextcall",
                "lastcall",
                "priority",
            },
        ),
        ("hr_payslip", {"payslip_run_id", "employee_id", "number", "net_wage"}),
        ("hr_payslip_line", {"slip_id", "code", "total", "amount", "rate"}),
        ("ir_attachment", {"store_fname", "checksum", "file_size", "res_model"}),
        ("queue_job", {"uuid", "state", "date_created", "date_started"}),
    ],
)
def test_tables_carry_odoo_column_names(
    schema_database: str, table: str, columns: set[str]
) -> None:
    assert columns <= set(_columns(schema_database, table))


def test_move_lines_reference_their_move(schema_database: str) -> None:
    with psycopg.connect(schema_database) as conn:
        row = conn.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint "
            "WHERE conname = 'account_move_line_move_id_fkey'"
        ).fetchone()
    assert row == ("account_move",)


def test_existing_tables_lists_what_drop_tables_removes(schema_database: str) -> None:
    with psycopg.connect(schema_database) as conn:
        assert odoo_schema.existing_tables(conn) == list(odoo_schema.TABLES)
        odoo_schema.drop_tables(conn)
        assert odoo_schema.existing_tables(conn) == []


def test_sandbox_schema_has_the_odoo_17_version_dependent_columns(
    schema_database: str,
) -> None:
    from odoo_dr.odoo_versions import schema_for

    odoo17 = schema_for("17.0")
    assert odoo17.project_analytic_column in _columns(
        schema_database, "project_project"
    )
    assert set(odoo17.cron_columns) <= set(_columns(schema_database, "ir_cron"))
