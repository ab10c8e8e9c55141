"""A subset of Odoo 17's database schema, for validation and load in the sandbox.

The tables, columns and types below carry Odoo 17's own names (with the
enterprise payroll tables and OCA's ``queue_job``), so that the validation
queries odoo-dr runs against a restored copy work unchanged on a real Odoo
database. This is not a full Odoo install: only the columns that validation,
the seed data and the load generator use are present, translatable fields are
``jsonb`` as in Odoo 17, and some many2one columns whose target table is left
out (products, units of measure, currencies' rates, server actions) are plain
integers without a foreign key.

Tables are created bare (primary key only) so the seed can COPY into them
quickly; :func:`add_constraints` then adds the foreign keys and the indexes
that validation and the load generator need.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

# Every Odoo table carries these four audit columns.
_AUDIT = """,
    create_uid integer,
    create_date timestamp without time zone,
    write_uid integer,
    write_date timestamp without time zone
)"""

_TABLES: dict[str, str] = {
    "res_currency": """
        CREATE TABLE res_currency (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            symbol varchar NOT NULL,
            rounding numeric,
            decimal_places integer,
            active boolean""",
    "res_partner": """
        CREATE TABLE res_partner (
            id serial PRIMARY KEY,
            name varchar,
            complete_name varchar,
            company_id integer,
            parent_id integer,
            commercial_partner_id integer,
            is_company boolean,
            type varchar,
            ref varchar,
            vat varchar,
            email varchar,
            phone varchar,
            street varchar,
            city varchar,
            zip varchar,
            supplier_rank integer,
            customer_rank integer,
            active boolean""",
    "res_company": """
        CREATE TABLE res_company (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            partner_id integer NOT NULL,
            currency_id integer NOT NULL,
            parent_id integer,
            sequence integer,
            email varchar,
            phone varchar,
            active boolean,
            po_double_validation varchar,
            po_double_validation_amount numeric,
            po_lock varchar""",
    "res_users": """
        CREATE TABLE res_users (
            id serial PRIMARY KEY,
            login varchar NOT NULL,
            password varchar,
            partner_id integer NOT NULL,
            company_id integer NOT NULL,
            active boolean,
            share boolean""",
    "account_analytic_plan": """
        CREATE TABLE account_analytic_plan (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            parent_id integer,
            complete_name varchar,
            default_applicability varchar,
            color integer""",
    "account_analytic_account": """
        CREATE TABLE account_analytic_account (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            code varchar,
            plan_id integer NOT NULL,
            root_plan_id integer,
            company_id integer,
            partner_id integer,
            active boolean""",
    "account_account": """
        CREATE TABLE account_account (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            code varchar(64) NOT NULL,
            account_type varchar NOT NULL,
            company_id integer NOT NULL,
            currency_id integer,
            reconcile boolean,
            deprecated boolean""",
    "account_journal": """
        CREATE TABLE account_journal (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            code varchar(5) NOT NULL,
            type varchar NOT NULL,
            company_id integer NOT NULL,
            default_account_id integer,
            sequence integer,
            restrict_mode_hash_table boolean,
            active boolean""",
    "hr_employee": """
        CREATE TABLE hr_employee (
            id serial PRIMARY KEY,
            name varchar,
            company_id integer NOT NULL,
            user_id integer,
            work_contact_id integer,
            job_title varchar,
            employee_type varchar,
            hourly_cost numeric,
            active boolean""",
    "project_project": """
        CREATE TABLE project_project (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            active boolean,
            sequence integer,
            partner_id integer,
            company_id integer,
            analytic_account_id integer,
            user_id integer,
            allow_timesheets boolean,
            privacy_visibility varchar,
            date_start date,
            date date,
            label_tasks jsonb""",
    "account_analytic_line": """
        CREATE TABLE account_analytic_line (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            date date NOT NULL,
            amount numeric NOT NULL,
            unit_amount double precision,
            account_id integer,
            partner_id integer,
            user_id integer,
            company_id integer NOT NULL,
            currency_id integer,
            category varchar,
            ref varchar,
            general_account_id integer,
            move_line_id integer,
            product_id integer,
            project_id integer,
            task_id integer,
            employee_id integer""",
    "purchase_order": """
        CREATE TABLE purchase_order (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            origin varchar,
            partner_ref varchar,
            date_order timestamp without time zone NOT NULL,
            date_approve timestamp without time zone,
            date_planned timestamp without time zone,
            partner_id integer NOT NULL,
            currency_id integer NOT NULL,
            state varchar,
            invoice_status varchar,
            amount_untaxed numeric,
            amount_tax numeric,
            amount_total numeric,
            company_id integer NOT NULL,
            user_id integer,
            priority varchar""",
    "purchase_order_line": """
        CREATE TABLE purchase_order_line (
            id serial PRIMARY KEY,
            name text NOT NULL,
            sequence integer,
            order_id integer NOT NULL,
            product_id integer,
            product_qty numeric NOT NULL,
            product_uom_qty numeric,
            price_unit numeric NOT NULL,
            price_subtotal numeric,
            price_tax double precision,
            price_total numeric,
            qty_received numeric,
            qty_invoiced numeric,
            date_planned timestamp without time zone,
            analytic_distribution jsonb,
            company_id integer,
            partner_id integer,
            currency_id integer,
            state varchar,
            display_type varchar""",
    "account_move": """
        CREATE TABLE account_move (
            id serial PRIMARY KEY,
            name varchar,
            ref varchar,
            date date NOT NULL,
            state varchar NOT NULL,
            move_type varchar NOT NULL,
            journal_id integer NOT NULL,
            company_id integer,
            partner_id integer,
            commercial_partner_id integer,
            currency_id integer NOT NULL,
            sequence_prefix varchar,
            sequence_number integer,
            posted_before boolean,
            invoice_date date,
            invoice_date_due date,
            invoice_origin varchar,
            payment_reference varchar,
            payment_state varchar,
            amount_untaxed numeric,
            amount_tax numeric,
            amount_total numeric,
            amount_residual numeric,
            amount_untaxed_signed numeric,
            amount_total_signed numeric,
            amount_residual_signed numeric,
            inalterable_hash varchar,
            secure_sequence_number integer""",
    "account_move_line": """
        CREATE TABLE account_move_line (
            id serial PRIMARY KEY,
            move_id integer NOT NULL,
            move_name varchar,
            date date,
            parent_state varchar,
            journal_id integer,
            company_id integer,
            company_currency_id integer,
            account_id integer,
            partner_id integer,
            currency_id integer NOT NULL,
            name varchar,
            display_type varchar NOT NULL,
            sequence integer,
            quantity numeric,
            price_unit numeric,
            price_subtotal numeric,
            price_total numeric,
            debit numeric,
            credit numeric,
            balance numeric,
            amount_currency numeric,
            amount_residual numeric,
            amount_residual_currency numeric,
            reconciled boolean,
            date_maturity date,
            analytic_distribution jsonb,
            purchase_line_id integer""",
    "mail_message": """
        CREATE TABLE mail_message (
            id serial PRIMARY KEY,
            model varchar,
            res_id integer,
            record_name varchar,
            subject varchar,
            body text,
            message_type varchar NOT NULL,
            date timestamp without time zone,
            author_id integer,
            message_id varchar""",
    "hr_payslip_run": """
        CREATE TABLE hr_payslip_run (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            state varchar,
            date_start date NOT NULL,
            date_end date NOT NULL,
            company_id integer NOT NULL""",
    "hr_payslip": """
        CREATE TABLE hr_payslip (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            number varchar,
            employee_id integer NOT NULL,
            payslip_run_id integer,
            company_id integer NOT NULL,
            date_from date NOT NULL,
            date_to date NOT NULL,
            state varchar NOT NULL,
            basic_wage numeric,
            gross_wage numeric,
            net_wage numeric,
            paid boolean""",
    "hr_payslip_line": """
        CREATE TABLE hr_payslip_line (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            sequence integer NOT NULL,
            code varchar NOT NULL,
            slip_id integer NOT NULL,
            employee_id integer,
            company_id integer,
            rate numeric,
            amount numeric,
            quantity numeric,
            total numeric,
            date_from date,
            date_to date""",
    "ir_attachment": """
        CREATE TABLE ir_attachment (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            res_name varchar,
            res_model varchar,
            res_field varchar,
            res_id integer,
            company_id integer,
            type varchar NOT NULL,
            url varchar(1024),
            public boolean,
            access_token varchar,
            db_datas bytea,
            store_fname varchar,
            file_size integer,
            checksum varchar(40),
            mimetype varchar,
            index_content text""",
    "ir_cron": """
        CREATE TABLE ir_cron (
            id serial PRIMARY KEY,
            ir_actions_server_id integer NOT NULL,
            cron_name varchar,
            user_id integer NOT NULL,
            active boolean,
            interval_number integer,
            interval_type varchar,
            numbercall integer,
            doall boolean,
            nextcall timestamp without time zone NOT NULL,
            lastcall timestamp without time zone,
            priority integer""",
    "ir_module_module": """
        CREATE TABLE ir_module_module (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            state varchar,
            latest_version varchar,
            author varchar,
            license varchar,
            application boolean,
            auto_install boolean""",
    "ir_config_parameter": """
        CREATE TABLE ir_config_parameter (
            id serial PRIMARY KEY,
            key varchar NOT NULL,
            value text NOT NULL""",
    "ir_mail_server": """
        CREATE TABLE ir_mail_server (
            id serial PRIMARY KEY,
            name varchar NOT NULL,
            from_filter varchar,
            smtp_host varchar,
            smtp_port integer,
            smtp_authentication varchar,
            smtp_user varchar,
            smtp_pass varchar,
            smtp_encryption varchar NOT NULL,
            smtp_debug boolean,
            sequence integer,
            active boolean""",
    "payment_provider": """
        CREATE TABLE payment_provider (
            id serial PRIMARY KEY,
            name jsonb NOT NULL,
            code varchar NOT NULL,
            state varchar NOT NULL,
            company_id integer NOT NULL,
            is_published boolean,
            sequence integer""",
    "queue_job": """
        CREATE TABLE queue_job (
            id serial PRIMARY KEY,
            uuid varchar NOT NULL,
            user_id integer,
            company_id integer,
            name varchar,
            model_name varchar,
            method_name varchar,
            func_string varchar,
            channel varchar,
            state varchar NOT NULL,
            priority integer,
            exc_name varchar,
            exc_message varchar,
            retry integer,
            max_retries integer,
            date_created timestamp without time zone,
            date_enqueued timestamp without time zone,
            date_started timestamp without time zone,
            date_done timestamp without time zone,
            eta timestamp without time zone,
            worker_pid integer""",
}

# The tables in creation order; a parent comes before the tables pointing at it.
TABLES: tuple[str, ...] = tuple(_TABLES)

# Foreign keys named as Odoo names them: <table>_<column>_fkey.
_FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("res_partner", "company_id", "res_company", "SET NULL"),
    ("res_partner", "parent_id", "res_partner", "SET NULL"),
    ("res_partner", "commercial_partner_id", "res_partner", "SET NULL"),
    ("res_company", "partner_id", "res_partner", "RESTRICT"),
    ("res_company", "currency_id", "res_currency", "RESTRICT"),
    ("res_users", "partner_id", "res_partner", "RESTRICT"),
    ("res_users", "company_id", "res_company", "RESTRICT"),
    ("account_analytic_account", "plan_id", "account_analytic_plan", "RESTRICT"),
    ("account_analytic_account", "company_id", "res_company", "RESTRICT"),
    ("account_account", "company_id", "res_company", "RESTRICT"),
    ("account_journal", "company_id", "res_company", "RESTRICT"),
    ("account_journal", "default_account_id", "account_account", "RESTRICT"),
    ("hr_employee", "company_id", "res_company", "RESTRICT"),
    ("project_project", "company_id", "res_company", "RESTRICT"),
    ("project_project", "partner_id", "res_partner", "SET NULL"),
    ("project_project", "analytic_account_id", "account_analytic_account", "SET NULL"),
    ("account_analytic_line", "account_id", "account_analytic_account", "RESTRICT"),
    ("account_analytic_line", "company_id", "res_company", "RESTRICT"),
    ("account_analytic_line", "general_account_id", "account_account", "RESTRICT"),
    ("account_analytic_line", "move_line_id", "account_move_line", "CASCADE"),
    ("account_analytic_line", "project_id", "project_project", "RESTRICT"),
    ("account_analytic_line", "employee_id", "hr_employee", "RESTRICT"),
    ("purchase_order", "partner_id", "res_partner", "RESTRICT"),
    ("purchase_order", "company_id", "res_company", "RESTRICT"),
    ("purchase_order", "currency_id", "res_currency", "RESTRICT"),
    ("purchase_order_line", "order_id", "purchase_order", "CASCADE"),
    ("account_move", "journal_id", "account_journal", "RESTRICT"),
    ("account_move", "company_id", "res_company", "RESTRICT"),
    ("account_move", "partner_id", "res_partner", "RESTRICT"),
    ("account_move", "currency_id", "res_currency", "RESTRICT"),
    ("account_move_line", "move_id", "account_move", "CASCADE"),
    ("account_move_line", "account_id", "account_account", "RESTRICT"),
    ("account_move_line", "partner_id", "res_partner", "RESTRICT"),
    ("account_move_line", "journal_id", "account_journal", "RESTRICT"),
    ("account_move_line", "purchase_line_id", "purchase_order_line", "SET NULL"),
    ("hr_payslip_run", "company_id", "res_company", "RESTRICT"),
    ("hr_payslip", "employee_id", "hr_employee", "RESTRICT"),
    ("hr_payslip", "payslip_run_id", "hr_payslip_run", "CASCADE"),
    ("hr_payslip", "company_id", "res_company", "RESTRICT"),
    ("hr_payslip_line", "slip_id", "hr_payslip", "CASCADE"),
    ("hr_payslip_line", "employee_id", "hr_employee", "RESTRICT"),
    ("ir_attachment", "company_id", "res_company", "SET NULL"),
    ("ir_cron", "user_id", "res_users", "RESTRICT"),
    ("payment_provider", "company_id", "res_company", "RESTRICT"),
    ("queue_job", "user_id", "res_users", "SET NULL"),
    ("queue_job", "company_id", "res_company", "SET NULL"),
)

# Odoo's unique constraints and indexes, plus those validation queries need.
_INDEXES: tuple[str, ...] = (
    "CREATE UNIQUE INDEX ir_config_parameter_key_uniq ON ir_config_parameter (key)",
    "CREATE UNIQUE INDEX ir_module_module_name_uniq ON ir_module_module (name)",
    "CREATE UNIQUE INDEX queue_job_uuid_index ON queue_job (uuid)",
    "CREATE INDEX queue_job_state_index ON queue_job (state)",
    "CREATE INDEX ir_attachment_res_idx ON ir_attachment (res_model, res_id)",
    "CREATE INDEX ir_attachment_checksum_index ON ir_attachment (checksum)",
    "CREATE INDEX ir_attachment_store_fname_index ON ir_attachment (store_fname)",
    "CREATE UNIQUE INDEX account_move_unique_name ON account_move "
    "(name, journal_id) WHERE state = 'posted' AND name != '/'",
    "CREATE UNIQUE INDEX account_move_sequence_index3 ON account_move "
    "(journal_id, sequence_prefix, sequence_number) WHERE state = 'posted'",
    "CREATE INDEX account_move_journal_id_secure_sequence_number_index "
    "ON account_move (journal_id, secure_sequence_number) "
    "WHERE secure_sequence_number IS NOT NULL",
    "CREATE INDEX account_move_ref_index ON account_move (ref)",
    "CREATE INDEX account_move_date_index ON account_move (date)",
    "CREATE INDEX account_move_state_index ON account_move (state, move_type)",
    "CREATE INDEX account_move_line_move_id_index ON account_move_line (move_id)",
    "CREATE INDEX account_move_line_account_id_index "
    "ON account_move_line (account_id, date)",
    "CREATE INDEX account_move_line_partner_id_index "
    "ON account_move_line (partner_id) WHERE partner_id IS NOT NULL",
    "CREATE INDEX account_analytic_line_account_id_index "
    "ON account_analytic_line (account_id, date)",
    "CREATE INDEX account_analytic_line_project_id_index "
    "ON account_analytic_line (project_id) WHERE project_id IS NOT NULL",
    "CREATE INDEX account_analytic_line_employee_id_index "
    "ON account_analytic_line (employee_id) WHERE employee_id IS NOT NULL",
    "CREATE INDEX account_analytic_line_move_line_id_index "
    "ON account_analytic_line (move_line_id) WHERE move_line_id IS NOT NULL",
    "CREATE INDEX account_analytic_line_ref_index ON account_analytic_line (ref)",
    "CREATE UNIQUE INDEX purchase_order_name_company_uniq "
    "ON purchase_order (name, company_id)",
    "CREATE INDEX purchase_order_state_index ON purchase_order (state)",
    "CREATE INDEX purchase_order_line_order_id_index ON purchase_order_line (order_id)",
    "CREATE INDEX mail_message_model_res_id_index ON mail_message (model, res_id)",
    "CREATE INDEX mail_message_message_id_index ON mail_message (message_id)",
    "CREATE INDEX hr_payslip_payslip_run_id_index ON hr_payslip (payslip_run_id)",
    "CREATE INDEX hr_payslip_employee_id_index ON hr_payslip (employee_id)",
    "CREATE INDEX hr_payslip_line_slip_id_index ON hr_payslip_line (slip_id)",
    "CREATE UNIQUE INDEX res_users_login_key ON res_users (login)",
)


def create_tables(conn: psycopg.Connection) -> None:
    """Create every table of the subset, with primary keys only.

    Args:
        conn: An open connection; the caller commits.
    """
    with conn.cursor() as cur:
        for ddl in _TABLES.values():
            cur.execute(ddl + _AUDIT)
    logger.debug("created %d Odoo tables", len(_TABLES))


def add_constraints(conn: psycopg.Connection) -> None:
    """Add Odoo's foreign keys and the indexes validation needs.

    Run after bulk loading: checking the keys once is faster than checking
    them row by row during COPY.

    Args:
        conn: An open connection; the caller commits.
    """
    with conn.cursor() as cur:
        for table, column, target, on_delete in _FOREIGN_KEYS:
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) "
                    "REFERENCES {} (id) ON DELETE {}"
                ).format(
                    sql.Identifier(table),
                    sql.Identifier(f"{table}_{column}_fkey"),
                    sql.Identifier(column),
                    sql.Identifier(target),
                    sql.SQL(on_delete),
                )
            )
        for index in _INDEXES:
            cur.execute(index)
    logger.debug(
        "added %d foreign keys and %d indexes", len(_FOREIGN_KEYS), len(_INDEXES)
    )


def drop_tables(conn: psycopg.Connection) -> None:
    """Drop every table of the subset that exists, with its data.

    Args:
        conn: An open connection; the caller commits.
    """
    with conn.cursor() as cur:
        for table in reversed(TABLES):
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table))
            )


def existing_tables(conn: psycopg.Connection) -> list[str]:
    """Name the tables of the subset that already exist in the database.

    Args:
        conn: An open connection.

    Returns:
        The names, in creation order.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
            (list(TABLES),),
        )
        found = {row[0] for row in cur.fetchall()}
    return [table for table in TABLES if table in found]
