"""Seed a construction firm's Odoo 17 database, with its filestore.

Two companies build and refurbish sites: Hartmann Bau GmbH (EUR, purchase
orders over 25,000 need a second approval, hash-locked purchase journal) and
Northgate Civil Works Ltd (GBP, one-step approval). Over the twelve months
before :data:`ANCHOR_DATE` they book timesheets and material costs on their
projects, raise purchase orders in every state, post vendor bills and refunds,
run monthly payroll, keep scanned bills and site photos as attachments, and
run the usual scheduled actions and queued jobs.

Everything comes from ``random.Random`` seeded with the caller's seed and
from the fixed anchor date, never from the clock, so the same seed gives the
same rows. Rows are generated in chunks and streamed with COPY: memory stays
flat whatever the scale. Payments are represented by the bills' residual
amounts and payment states only; no bank entries are generated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel

from odoo_dr.errors import SandboxError
from sandbox import odoo_schema

logger = logging.getLogger(__name__)

ANCHOR_DATE = date(2026, 11, 30)
"""The last day of the seeded history; nothing is dated after it."""

HISTORY_DAYS = 365
CHUNK = 2000
"""Bills, orders or payslips generated and copied at a time."""

# Row counts at scale 1 (about 50 MB); they grow linearly with the scale.
_BASE_COUNTS = {
    "employees": 200,
    "vendors": 240,
    "projects": 48,
    "timesheets": 68_000,
    "purchase_orders": 2_800,
    "vendor_bills": 6_000,
    "queue_jobs": 400,
}
_MINIMUM_COUNTS = {"employees": 8, "vendors": 10, "projects": 4}
_CREATED = datetime(ANCHOR_DATE.year - 1, 11, 2, 9, 30)

Row = tuple[Any, ...]


class SeedRefusedError(SandboxError):
    """The target database already holds Odoo data and replace was not asked."""


class SeedSummary(BaseModel):
    """What :func:`seed_database` wrote."""

    database_name: str
    scale: float
    seed: int
    rows: dict[str, int]
    filestore_files: int
    filestore_bytes: int
    database_bytes: int
    seconds: float


def seed_database(
    conninfo: str,
    *,
    scale: float = 1.0,
    seed: int = 42,
    filestore: Path,
    database_name: str = "odoo",
    replace: bool = False,
) -> SeedSummary:
    """Build the Odoo schema subset and fill it with a construction firm.

    Everything happens in one transaction: a failed seed leaves no tables.

    Args:
        conninfo: libpq connection string of the target database.
        scale: Multiplies the row counts; 1 gives about 50 MB, 20 about 0.9 GB.
        seed: Seed of the random generator; the same seed gives the same rows.
        filestore: Odoo's filestore root; files go under ``<database_name>/``.
        database_name: The Odoo database name the filestore folder is named by.
        replace: Drop existing Odoo tables and their filestore folder first.

    Returns:
        Row counts per table, filestore files and bytes, size and duration.

    Raises:
        SeedRefusedError: The database already holds Odoo data and
            ``replace`` is false.
        ValueError: ``scale`` is not positive.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    started = time.monotonic()
    store = filestore / database_name
    with psycopg.connect(conninfo) as conn:
        _prepare(conn, replace=replace, store=store)
        odoo_schema.create_tables(conn)
        firm = _Seeding(conn, _scaled(scale), store)
        _write_master_data(firm, _family_rng(seed, "master"))
        _write_activity(firm, seed)
        odoo_schema.add_constraints(conn)
        _advance_sequences(conn)
        conn.commit()
        conn.execute("ANALYZE")
        size = _database_size(conn)
    summary = SeedSummary(
        database_name=database_name,
        scale=scale,
        seed=seed,
        rows=dict(sorted(firm.rows.items())),
        filestore_files=firm.files,
        filestore_bytes=firm.file_bytes,
        database_bytes=size,
        seconds=round(time.monotonic() - started, 3),
    )
    logger.info(
        "seeded database %s at scale %s: %d rows, %d files, %d bytes in %.1f s",
        database_name,
        scale,
        sum(summary.rows.values()),
        summary.filestore_files,
        summary.database_bytes,
        summary.seconds,
    )
    return summary


def inalterable_hash(
    previous_hash: str,
    name: str,
    move_date: date,
    journal_id: int,
    company_id: int,
    amount_total: Decimal,
    lines: Iterable[tuple[int, Decimal, Decimal]],
) -> str:
    """Hash a posted journal entry onto the chain of its journal.

    Odoo chains the entries of a journal with ``restrict_mode_hash_table``:
    each ``inalterable_hash`` covers the entry's fields and the previous
    entry's hash, in ``secure_sequence_number`` order. The sandbox chains the
    same way over the fields below; the exact string differs from Odoo's.

    Args:
        previous_hash: Hash of the journal's previous entry, "" for the first.
        name: The entry's number, e.g. ``BILL/2026/00042``.
        move_date: Accounting date.
        journal_id: Journal of the chain.
        company_id: Company of the entry.
        amount_total: The entry's total.
        lines: ``(account_id, debit, credit)`` of each line, in id order.

    Returns:
        The sha256 hex digest.
    """
    parts = [previous_hash, name, move_date.isoformat(), str(journal_id)]
    parts += [str(company_id), f"{amount_total:.2f}"]
    parts += [f"{account}:{debit:.2f}:{credit:.2f}" for account, debit, credit in lines]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def money(cents: int) -> Decimal:
    """Turn integer cents into the two-decimal amount Odoo stores."""
    return Decimal(cents).scaleb(-2)


# --- plumbing -----------------------------------------------------------------


class _Table:
    """A table's COPY columns, and rows built by column name."""

    def __init__(self, name: str, *columns: str) -> None:
        self.name = name
        self.columns = ("id", *columns, *_AUDIT_COLUMNS)
        self._known = frozenset(self.columns)

    def row(self, *, stamp: datetime = _CREATED, user: int = 1, **values: Any) -> Row:
        """A row in column order; columns not given are NULL.

        ``stamp`` and ``user`` fill Odoo's create/write date and uid columns.
        """
        unknown = values.keys() - self._known
        if unknown:
            raise KeyError(f"{self.name} has no column {sorted(unknown)[0]}")
        values.update(create_uid=user, write_uid=user)
        values.update(create_date=stamp, write_date=stamp)
        return tuple(map(values.get, self.columns))


_AUDIT_COLUMNS = ("create_uid", "create_date", "write_uid", "write_date")


@dataclass(frozen=True)
class _Company:
    id: int
    currency_id: int
    tax_percent: int
    payable_account: int
    tax_account: int
    expense_accounts: tuple[int, ...]
    bill_journal: int
    hashed: bool


@dataclass(frozen=True)
class _Employee:
    id: int
    name: str
    company_id: int
    hourly_cost_cents: int
    monthly_wage_cents: int


@dataclass(frozen=True)
class _Project:
    id: int
    analytic_account_id: int
    company_id: int


@dataclass
class _Seeding:
    """One seeding: the connection, master data, ids handed out and counts."""

    conn: psycopg.Connection
    counts: dict[str, int]
    filestore: Path
    companies: dict[int, _Company] = field(default_factory=dict)
    vendors: list[int] = field(default_factory=list)
    employees: list[_Employee] = field(default_factory=list)
    projects: list[_Project] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    _next_ids: dict[str, int] = field(default_factory=dict)
    _by_company: dict[int, list[_Project]] = field(default_factory=dict)

    def take_id(self, table: _Table) -> int:
        """Hand out the next id of a table."""
        value = self._next_ids.get(table.name, 1)
        self._next_ids[table.name] = value + 1
        return value

    def projects_of(self, company_id: int) -> list[_Project]:
        """The projects a company runs (all projects if it runs none)."""
        if not self._by_company:
            for project in self.projects:
                self._by_company.setdefault(project.company_id, []).append(project)
        return self._by_company.get(company_id) or self.projects

    def copy(self, table: _Table, rows: Iterable[Row]) -> None:
        """Stream rows into a table with COPY."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name),
            sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        )
        written = 0
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
        self.rows[table.name] = self.rows.get(table.name, 0) + written

    def store_file(self, content: bytes) -> tuple[str, int, str]:
        """Write a file as Odoo's filestore does; return fname, size, sha1."""
        checksum = hashlib.sha1(content).hexdigest()  # noqa: S324 - Odoo's choice
        store_fname = f"{checksum[:2]}/{checksum}"
        path = self.filestore / store_fname
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            self.files += 1
            self.file_bytes += len(content)
        return store_fname, len(content), checksum


def _prepare(conn: psycopg.Connection, *, replace: bool, store: Path) -> None:
    """Refuse to overwrite data, or drop the old tables and filestore folder."""
    existing = odoo_schema.existing_tables(conn)
    holding = [table for table in existing if _has_rows(conn, table)]
    if holding and not replace:
        raise SeedRefusedError(
            f"database already holds Odoo data (table {holding[0]} has rows); "
            "pass replace=True to drop and rebuild it"
        )
    if existing:
        logger.info("dropping %d existing Odoo tables", len(existing))
        odoo_schema.drop_tables(conn)
    if replace and store.exists():
        shutil.rmtree(store)


def _has_rows(conn: psycopg.Connection, table: str) -> bool:
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def _scaled(scale: float) -> dict[str, int]:
    return {
        name: max(_MINIMUM_COUNTS.get(name, 1), round(base * scale))
        for name, base in _BASE_COUNTS.items()
    }


def _family_rng(seed: int, family: str) -> random.Random:
    """One generator per family of rows, so families do not shift each other."""
    return random.Random(f"{seed}:{family}")


def _stamp(day: date, rng: random.Random) -> datetime:
    """A working-hours timestamp on a given day."""
    return datetime(day.year, day.month, day.day, 7) + timedelta(
        seconds=rng.randrange(10 * 3600)
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _history_day(index: int, total: int) -> date:
    """Spread ``total`` events evenly over the history, oldest first."""
    first = ANCHOR_DATE - timedelta(days=HISTORY_DAYS - 1)
    return first + timedelta(days=index * HISTORY_DAYS // max(total, 1))


def _jsonb(text: str) -> str:
    """A translatable Odoo 17 field value."""
    return json.dumps({"en_US": text})


def _database_size(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _advance_sequences(conn: psycopg.Connection) -> None:
    """Set each ``<table>_id_seq`` past the largest id, so inserts work."""
    for table in odoo_schema.TABLES:
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({}, 'id'), "
                "coalesce(max(id), 0) + 1, false) FROM {}"
            ).format(sql.Literal(table), sql.Identifier(table))
        )


# --- master data --------------------------------------------------------------

_CURRENCY = _Table(
    "res_currency", "name", "symbol", "rounding", "decimal_places", "active"
)
_COMPANY = _Table(
    "res_company",
    "name",
    "partner_id",
    "currency_id",
    "sequence",
    "email",
    "active",
    "po_double_validation",
    "po_double_validation_amount",
    "po_lock",
)
_PARTNER = _Table(
    "res_partner",
    "name",
    "complete_name",
    "company_id",
    "commercial_partner_id",
    "is_company",
    "type",
    "ref",
    "vat",
    "email",
    "city",
    "zip",
    "supplier_rank",
    "customer_rank",
    "active",
)
_USER = _Table("res_users", "login", "partner_id", "company_id", "active", "share")
_ACCOUNT = _Table(
    "account_account",
    "name",
    "code",
    "account_type",
    "company_id",
    "reconcile",
    "deprecated",
)
_JOURNAL = _Table(
    "account_journal",
    "name",
    "code",
    "type",
    "company_id",
    "default_account_id",
    "sequence",
    "restrict_mode_hash_table",
    "active",
)
_EMPLOYEE = _Table(
    "hr_employee",
    "name",
    "company_id",
    "job_title",
    "employee_type",
    "hourly_cost",
    "active",
)
_PLAN = _Table(
    "account_analytic_plan",
    "name",
    "complete_name",
    "default_applicability",
    "color",
)
_ANALYTIC_ACCOUNT = _Table(
    "account_analytic_account",
    "name",
    "code",
    "plan_id",
    "root_plan_id",
    "company_id",
    "partner_id",
    "active",
)
_PROJECT = _Table(
    "project_project",
    "name",
    "active",
    "sequence",
    "partner_id",
    "company_id",
    "analytic_account_id",
    "user_id",
    "allow_timesheets",
    "privacy_visibility",
    "date_start",
    "date",
    "label_tasks",
)

_COMPANIES = (
    # id, name, partner, currency, approval, threshold, VAT %, hash-locked bills
    (1, "Hartmann Bau GmbH", 1, 1, "two_step", 25_000, 19, True),
    (2, "Northgate Civil Works Ltd", 4, 2, "one_step", 5_000, 20, False),
)
_CHART = (
    # code, name, type, reconcile: the same chart for each company
    ("211000", "Account Payable", "liability_payable", True),
    ("131000", "Tax Paid", "asset_current", False),
    ("610000", "Construction Materials", "expense_direct_cost", False),
    ("611000", "Subcontractors", "expense_direct_cost", False),
    ("612000", "Plant and Equipment Hire", "expense", False),
    ("613000", "Site Fuel and Energy", "expense", False),
    ("101401", "Bank", "asset_cash", False),
    ("640000", "Wages and Salaries", "expense", False),
)
_JOURNALS = (
    # name, code, type, default account's place in the chart
    ("Vendor Bills", "BILL", "purchase", 2),
    ("Miscellaneous Operations", "MISC", "general", None),
    ("Bank", "BNK1", "bank", 6),
    ("Salaries", "SAL", "general", 7),
)
_STAFF = (
    # partner id, user id, login, name, company
    (2, 1, "__system__", "OdooBot", 1),
    (3, 2, "admin", "Administrator", 1),
    (5, 3, "j.keller", "Jonas Keller", 1),
    (6, 4, "m.brandt", "Mara Brandt", 1),
    (7, 5, "l.vogel", "Lena Vogel", 1),
    (8, 6, "o.whitfield", "Owen Whitfield", 2),
)
_FIRST_VENDOR_PARTNER = 9
_BUYER = {1: 3, 2: 6}
_PAYROLL_OFFICER = 5

_SURNAMES = (
    "Keller",
    "Brandt",
    "Vogel",
    "Hoffmann",
    "Schreiber",
    "Lorenz",
    "Okafor",
    "Whitfield",
    "Marsh",
    "Doyle",
    "Pereira",
    "Novak",
    "Lindqvist",
    "Castell",
    "Ashworth",
    "Kowalski",
    "Fenwick",
    "Moreau",
    "Haines",
    "Albrecht",
)
_FIRST_NAMES = (
    "Jonas",
    "Mara",
    "Tobias",
    "Lena",
    "Grace",
    "Owen",
    "Piotr",
    "Aylin",
    "Samuel",
    "Nadia",
    "Felix",
    "Ruth",
    "Callum",
    "Ines",
    "Hamza",
    "Clara",
    "Emre",
    "Leonie",
    "Declan",
    "Sofia",
)
_TRADES = (
    "Concrete",
    "Rebar",
    "Scaffolding",
    "Timber",
    "Aggregates",
    "Plant Hire",
    "Formwork",
    "Roofing",
    "Drylining",
    "Electrical",
    "Plumbing",
    "Glazing",
    "Steel Fabrication",
    "Earthworks",
    "Insulation",
    "Crane Services",
)
_FORMS = ("GmbH", "Ltd", "& Sons", "Supply", "Group", "KG", "Services")
_SITES = (
    "Riverside",
    "Hafenkante",
    "Elm Park",
    "Kingsway",
    "Nordring",
    "Millbrook",
    "Station Quarter",
    "Lindenhof",
    "Harbour Road",
    "Westfield",
    "Am Kanal",
)
_WORKS = (
    "Apartments Block",
    "Bridge Refurbishment",
    "Depot Extension",
    "School Annex",
    "Office Fit-out",
    "Car Park Deck",
    "Care Home",
    "Warehouse Slab",
    "Sewer Renewal",
    "Retail Unit",
)
_JOBS = (
    # job title, hourly cost range in cents
    ("Site Manager", 5200, 6100),
    ("Foreman", 4200, 5000),
    ("Carpenter", 3300, 4100),
    ("Steel Fixer", 3200, 3900),
    ("Bricklayer", 3200, 3900),
    ("Electrician", 3500, 4400),
    ("Plumber", 3400, 4300),
    ("Crane Operator", 3800, 4600),
    ("Groundworker", 2800, 3400),
    ("Labourer", 2500, 3000),
    ("Quantity Surveyor", 4800, 5800),
)


def _write_master_data(firm: _Seeding, rng: random.Random) -> None:
    """Currencies, companies, users, accounts, journals, people and projects."""
    firm.copy(
        _CURRENCY,
        [
            _CURRENCY.row(
                id=1,
                name="EUR",
                symbol="€",
                rounding=Decimal("0.01"),
                decimal_places=2,
                active=True,
            ),
            _CURRENCY.row(
                id=2,
                name="GBP",
                symbol="£",
                rounding=Decimal("0.01"),
                decimal_places=2,
                active=True,
            ),
        ],
    )
    _write_companies(firm)
    _write_partners_and_users(firm, rng)
    _write_accounts_and_journals(firm)
    _write_employees(firm, rng)
    _write_projects(firm, rng)
    _write_settings(firm, rng)


def _write_companies(firm: _Seeding) -> None:
    rows = []
    per_company = len(_CHART)
    for cid, name, partner, currency, approval, limit, tax, hashed in _COMPANIES:
        first_account = (cid - 1) * per_company + 1
        firm.companies[cid] = _Company(
            id=cid,
            currency_id=currency,
            tax_percent=tax,
            payable_account=first_account,
            tax_account=first_account + 1,
            expense_accounts=tuple(range(first_account + 2, first_account + 6)),
            bill_journal=(cid - 1) * len(_JOURNALS) + 1,
            hashed=hashed,
        )
        rows.append(
            _COMPANY.row(
                id=cid,
                name=name,
                partner_id=partner,
                currency_id=currency,
                sequence=cid,
                email=f"office@{name.split()[0].lower()}.example",
                active=True,
                po_double_validation=approval,
                po_double_validation_amount=Decimal(limit),
                po_lock="edit",
            )
        )
    firm.copy(_COMPANY, rows)


def _partner(
    pid: int, name: str, company: int | None, supplier_rank: int = 0, **values: Any
) -> Row:
    return _PARTNER.row(
        id=pid,
        name=name,
        complete_name=name,
        company_id=company,
        commercial_partner_id=pid,
        type="contact",
        active=True,
        supplier_rank=supplier_rank,
        customer_rank=0,
        **values,
    )


def _write_partners_and_users(firm: _Seeding, rng: random.Random) -> None:
    partners = [
        _partner(1, _COMPANIES[0][1], 1, is_company=True, city="Hamburg"),
        _partner(4, _COMPANIES[1][1], 2, is_company=True, city="Leeds"),
    ]
    partners += [_partner(p, name, c) for p, _, _, name, c in _STAFF]
    for number in range(firm.counts["vendors"]):
        pid = _FIRST_VENDOR_PARTNER + number
        name = f"{rng.choice(_SURNAMES)} {rng.choice(_TRADES)} {rng.choice(_FORMS)}"
        city = rng.choice(("Hamburg", "Bremen", "Kiel", "Leeds", "York"))
        partners.append(
            _partner(
                pid,
                name,
                None,
                is_company=True,
                supplier_rank=1,
                ref=f"V{pid:05d}",
                vat=f"DE{rng.randrange(10**8, 10**9)}",
                city=city,
                zip=f"{rng.randrange(10000, 99999)}",
            )
        )
        firm.vendors.append(pid)
    firm.copy(_PARTNER, partners)
    users = [
        _USER.row(
            id=uid,
            login=login,
            partner_id=pid,
            company_id=company,
            active=login != "__system__",
            share=False,
        )
        for pid, uid, login, _, company in _STAFF
    ]
    firm.copy(_USER, users)


def _write_accounts_and_journals(firm: _Seeding) -> None:
    accounts, journals = [], []
    for company in firm.companies.values():
        first = company.payable_account
        for offset, (code, name, kind, reconcile) in enumerate(_CHART):
            accounts.append(
                _ACCOUNT.row(
                    id=first + offset,
                    name=_jsonb(name),
                    code=code,
                    account_type=kind,
                    company_id=company.id,
                    reconcile=reconcile,
                    deprecated=False,
                )
            )
        for offset, (name, code, kind, default) in enumerate(_JOURNALS):
            journals.append(
                _JOURNAL.row(
                    id=company.bill_journal + offset,
                    name=_jsonb(name),
                    code=code,
                    type=kind,
                    company_id=company.id,
                    default_account_id=None if default is None else first + default,
                    sequence=offset + 1,
                    active=True,
                    restrict_mode_hash_table=company.hashed and kind == "purchase",
                )
            )
    firm.copy(_ACCOUNT, accounts)
    firm.copy(_JOURNAL, journals)


def _write_employees(firm: _Seeding, rng: random.Random) -> None:
    rows = []
    for eid in range(1, firm.counts["employees"] + 1):
        company = 1 if rng.random() < 0.7 else 2
        title, low, high = rng.choice(_JOBS)
        hourly = rng.randrange(low, high)
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_SURNAMES)}"
        firm.employees.append(_Employee(eid, name, company, hourly, hourly * 168))
        rows.append(
            _EMPLOYEE.row(
                id=eid,
                name=name,
                company_id=company,
                job_title=title,
                employee_type="employee",
                hourly_cost=money(hourly),
                active=True,
            )
        )
    firm.copy(_EMPLOYEE, rows)


def _write_projects(firm: _Seeding, rng: random.Random) -> None:
    """Each site is a project with its analytic account on the Projects plan."""
    firm.copy(
        _PLAN,
        [
            _PLAN.row(
                id=1,
                name=_jsonb("Projects"),
                complete_name="Projects",
                default_applicability="optional",
                color=1,
            )
        ],
    )
    accounts, projects = [], []
    for pid in range(1, firm.counts["projects"] + 1):
        company = 1 if pid % 4 else 2
        name = _jsonb(f"{rng.choice(_SITES)} {rng.choice(_WORKS)} {pid}")
        start = ANCHOR_DATE - timedelta(days=rng.randrange(200, 700))
        client = rng.choice(firm.vendors)
        firm.projects.append(_Project(pid, pid, company))
        accounts.append(
            _ANALYTIC_ACCOUNT.row(
                id=pid,
                name=name,
                code=f"SITE-{pid:04d}",
                plan_id=1,
                root_plan_id=1,
                company_id=company,
                partner_id=client,
                active=True,
            )
        )
        projects.append(
            _PROJECT.row(
                id=pid,
                name=name,
                active=True,
                sequence=pid,
                partner_id=client,
                company_id=company,
                analytic_account_id=pid,
                user_id=4,
                allow_timesheets=True,
                privacy_visibility="employees",
                date_start=start,
                date=start + timedelta(days=rng.randrange(300, 900)),
                label_tasks=_jsonb("Work Packages"),
            )
        )
    firm.copy(_ANALYTIC_ACCOUNT, accounts)
    firm.copy(_PROJECT, projects)


_PARAMETER = _Table("ir_config_parameter", "key", "value")
_CRON = _Table(
    "ir_cron",
    "ir_actions_server_id",
    "cron_name",
    "user_id",
    "active",
    "interval_number",
    "interval_type",
    "numbercall",
    "doall",
    "nextcall",
    "lastcall",
    "priority",
)
_MAIL_SERVER = _Table(
    "ir_mail_server",
    "name",
    "from_filter",
    "smtp_host",
    "smtp_port",
    "smtp_authentication",
    "smtp_user",
    "smtp_encryption",
    "smtp_debug",
    "sequence",
    "active",
)
_PROVIDER = _Table(
    "payment_provider",
    "name",
    "code",
    "state",
    "company_id",
    "is_published",
    "sequence",
)
_MODULE = _Table(
    "ir_module_module",
    "name",
    "state",
    "latest_version",
    "author",
    "license",
    "application",
    "auto_install",
)
# The installed modules validation asks about, with Odoo 17's version numbers.
_MODULES = (
    # name, latest version, license, application
    ("base", "17.0.1.3", "LGPL-3", False),
    ("mail", "17.0.1.15", "LGPL-3", True),
    ("account", "17.0.1.2", "LGPL-3", False),
    ("purchase", "17.0.1.2", "LGPL-3", True),
    ("project", "17.0.1.3", "LGPL-3", True),
    ("hr_timesheet", "17.0.1.0", "LGPL-3", False),
    ("hr_payroll", "17.0.1.0", "OEEL-1", True),
    ("payment", "17.0.2.0", "LGPL-3", False),
    ("queue_job", "17.0.1.1.0", "LGPL-3", False),
)
_CRONS = (
    # name, interval number, interval type, priority
    ("Mail: Email Queue Manager", 1, "hours", 10),
    ("Mail: Fetchmail Service", 5, "minutes", 5),
    ("Account: Post draft entries with auto_post enabled", 1, "days", 5),
    ("Account: Send invoices automatically", 1, "hours", 5),
    ("Purchase reminder", 1, "days", 5),
    ("Procurement: run scheduler", 1, "days", 5),
    ("Timesheet: employees reminder", 1, "weeks", 5),
    ("Payroll: Update Payslip Work Entries", 1, "days", 5),
    ("Base: Auto-vacuum internal data", 1, "days", 5),
    ("Digest Emails", 1, "days", 5),
    ("Queue Job: requeue jobs that are stuck", 5, "minutes", 5),
    ("Project: update project stage", 1, "days", 5),
)
_PROVIDERS = (
    # name, code, state, company
    ("Wire Transfer", "custom", "enabled", 1),
    ("Stripe", "stripe", "test", 1),
    ("Adyen", "adyen", "disabled", 2),
    ("Wire Transfer", "custom", "enabled", 2),
)


def _write_settings(firm: _Seeding, rng: random.Random) -> None:
    """Identity keys, scheduled actions, the mail server and payment providers."""
    parameters = {
        "database.uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "database.secret": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "database.create_date": _CREATED.strftime("%Y-%m-%d %H:%M:%S"),
        "web.base.url": "https://erp.hartmann-bau.example",
        "web.base.url.freeze": "True",
        "mail.catchall.domain": "hartmann-bau.example",
    }
    firm.copy(
        _PARAMETER,
        [
            _PARAMETER.row(id=pid, key=key, value=value)
            for pid, (key, value) in enumerate(parameters.items(), start=1)
        ],
    )
    _write_modules(firm)
    _write_crons(firm)
    server = _MAIL_SERVER.row(
        id=1,
        name="Company SMTP relay",
        from_filter="hartmann-bau.example",
        smtp_host="smtp.hartmann-bau.example",
        smtp_port=587,
        smtp_authentication="login",
        smtp_user="erp@hartmann-bau.example",
        smtp_encryption="starttls",
        smtp_debug=False,
        sequence=10,
        active=True,
    )
    firm.copy(_MAIL_SERVER, [server])
    providers = [
        _PROVIDER.row(
            id=pid,
            name=_jsonb(name),
            code=code,
            state=state,
            company_id=company,
            is_published=state == "enabled",
            sequence=10 * pid,
        )
        for pid, (name, code, state, company) in enumerate(_PROVIDERS, start=1)
    ]
    firm.copy(_PROVIDER, providers)


def _write_modules(firm: _Seeding) -> None:
    """The installed modules, as ir_module_module lists them."""
    firm.copy(
        _MODULE,
        [
            _MODULE.row(
                id=mid,
                name=name,
                state="installed",
                latest_version=version,
                author="Odoo S.A." if name != "queue_job" else "ACSONE SA/NV",
                license=license_,
                application=application,
                auto_install=False,
            )
            for mid, (name, version, license_, application) in enumerate(
                _MODULES, start=1
            )
        ],
    )


def _write_crons(firm: _Seeding) -> None:
    """Odoo's usual scheduled actions, all active, next due after the anchor."""
    tomorrow = _midnight(ANCHOR_DATE + timedelta(days=1))
    firm.copy(
        _CRON,
        [
            _CRON.row(
                id=cid,
                ir_actions_server_id=100 + cid,
                cron_name=name,
                user_id=1,
                active=True,
                interval_number=number,
                interval_type=unit,
                numbercall=-1,
                doall=False,
                priority=priority,
                nextcall=tomorrow + timedelta(minutes=7 * cid),
                lastcall=tomorrow - timedelta(days=1),
            )
            for cid, (name, number, unit, priority) in enumerate(_CRONS, start=1)
        ],
    )


# --- timesheets ---------------------------------------------------------------


def _write_activity(firm: _Seeding, seed: int) -> None:
    """Twelve months of site activity, one family of rows after another."""
    for family, writer in (
        ("timesheets", _write_timesheets),
        ("purchase", _write_purchase_orders),
        ("bills", _write_vendor_bills),
        ("payroll", _write_payroll),
        ("photos", _write_site_photos),
        ("jobs", _write_queue_jobs),
    ):
        started = time.monotonic()
        writer(firm, _family_rng(seed, family))
        logger.debug("wrote %s in %.2f s", family, time.monotonic() - started)


_ANALYTIC_LINE = _Table(
    "account_analytic_line",
    "name",
    "date",
    "amount",
    "unit_amount",
    "account_id",
    "partner_id",
    "company_id",
    "currency_id",
    "category",
    "ref",
    "general_account_id",
    "move_line_id",
    "project_id",
    "employee_id",
)
_TIMESHEET_TASKS = (
    "Formwork level 2",
    "Rebar fixing slab",
    "Pour foundations",
    "Site setup",
    "Scaffold inspection",
    "Blockwork ground floor",
    "First fix electrics",
    "Drainage trench",
    "Crane lift plan",
    "Snagging",
    "Roof battens",
    "Concrete curing checks",
    "Toolbox talk",
    "Setting out",
)


def _timesheets(firm: _Seeding, rng: random.Random) -> Iterator[Row]:
    """Hours booked by the crews on the sites; their cost is negative."""
    crews: dict[int, list[_Employee]] = {}
    for employee in firm.employees:
        crews.setdefault(employee.company_id, []).append(employee)
    total = firm.counts["timesheets"]
    for index in range(total):
        project = rng.choice(firm.projects)
        company = firm.companies[project.company_id]
        employee = rng.choice(crews.get(company.id) or firm.employees)
        hours = rng.choice((4.0, 6.0, 7.5, 8.0, 8.0, 8.0, 9.0, 10.0))
        day = _history_day(index, total)
        yield _ANALYTIC_LINE.row(
            id=firm.take_id(_ANALYTIC_LINE),
            name=rng.choice(_TIMESHEET_TASKS),
            date=day,
            amount=money(-round(hours * employee.hourly_cost_cents)),
            unit_amount=hours,
            account_id=project.analytic_account_id,
            company_id=company.id,
            currency_id=company.currency_id,
            category="other",
            project_id=project.id,
            employee_id=employee.id,
            stamp=_stamp(day, rng),
            user=2,
        )


def _write_timesheets(firm: _Seeding, rng: random.Random) -> None:
    firm.copy(_ANALYTIC_LINE, _timesheets(firm, rng))


# --- purchase orders ----------------------------------------------------------

_ORDER = _Table(
    "purchase_order",
    "name",
    "date_order",
    "date_approve",
    "date_planned",
    "partner_id",
    "currency_id",
    "state",
    "invoice_status",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "company_id",
    "user_id",
    "priority",
)
_ORDER_LINE = _Table(
    "purchase_order_line",
    "name",
    "sequence",
    "order_id",
    "product_qty",
    "product_uom_qty",
    "price_unit",
    "price_subtotal",
    "price_tax",
    "price_total",
    "qty_received",
    "qty_invoiced",
    "date_planned",
    "analytic_distribution",
    "company_id",
    "partner_id",
    "currency_id",
    "state",
)
_CATALOGUE = (
    # description, unit price range in cents, quantity range
    ("Ready-mix concrete C30/37, m3", (9_500, 14_000), (5, 260)),
    ("Rebar B500B, tonne", (72_000, 110_000), (1, 36)),
    ("Tower crane hire, week", (250_000, 420_000), (1, 8)),
    ("Scaffolding hire, week", (60_000, 150_000), (1, 12)),
    ("Formwork panels hire, month", (120_000, 300_000), (1, 4)),
    ("Timber C24 45x145, m", (320, 560), (100, 2400)),
    ("Cement CEM II 25 kg bag", (690, 990), (20, 600)),
    ("Aggregate 0/32, tonne", (1_900, 3_100), (10, 400)),
    ("Plasterboard 12.5 mm sheet", (650, 980), (20, 900)),
    ("Mineral wool insulation, m2", (780, 1_450), (40, 1800)),
    ("Excavator 14 t hire, day", (38_000, 62_000), (1, 25)),
    ("Subcontract: groundworks package", (900_000, 4_800_000), (1, 1)),
    ("Skip 8 yd, exchange", (22_000, 34_000), (1, 15)),
    ("Diesel for plant, litre", (150, 210), (200, 4000)),
)
_PO_STATES = ("draft", "sent", "purchase", "done", "cancel")
_PO_WEIGHTS = (8, 6, 46, 34, 6)


@dataclass
class _OrderLine:
    """A purchase order line before it becomes a row; amounts in cents."""

    name: str
    quantity: int
    unit: int
    tax_percent: int

    @property
    def subtotal(self) -> int:
        return self.quantity * self.unit

    @property
    def tax(self) -> int:
        return self.subtotal * self.tax_percent // 100


def _order_state(company: int, total_cents: int, rng: random.Random) -> str:
    """Orders of a two-step company over its threshold may await approval."""
    _, _, _, _, approval, threshold, _, _ = _COMPANIES[company - 1]
    if approval == "two_step" and total_cents >= threshold * 100:
        if rng.random() < 0.25:
            return "to approve"
    return rng.choices(_PO_STATES, _PO_WEIGHTS)[0]


def _order_rows(firm: _Seeding, rng: random.Random, day: date) -> list[Row]:
    """One purchase order for a site, then its lines."""
    company = firm.companies[1 if rng.random() < 0.72 else 2]
    lines = []
    for _ in range(rng.randint(1, 5)):
        name, (low, high), (qmin, qmax) = rng.choice(_CATALOGUE)
        quantity, unit = rng.randint(qmin, qmax), rng.randrange(low, high)
        lines.append(_OrderLine(name, quantity, unit, company.tax_percent))
    untaxed = sum(line.subtotal for line in lines)
    tax = sum(line.tax for line in lines)
    state = _order_state(company.id, untaxed + tax, rng)
    ordered = _stamp(day, rng)
    approved = ordered + timedelta(hours=rng.randint(1, 72))
    planned = ordered + timedelta(days=rng.randint(3, 30))
    order_id = firm.take_id(_ORDER)
    partner = rng.choice(firm.vendors)
    confirmed, received = state in ("purchase", "done"), state == "done"
    order = _ORDER.row(
        id=order_id,
        name=f"P{order_id:05d}",
        date_order=ordered,
        date_approve=approved if confirmed else None,
        date_planned=planned,
        partner_id=partner,
        currency_id=company.currency_id,
        state=state,
        invoice_status="invoiced"
        if received
        else ("to invoice" if confirmed else "no"),
        amount_untaxed=money(untaxed),
        amount_tax=money(tax),
        amount_total=money(untaxed + tax),
        company_id=company.id,
        user_id=_BUYER[company.id],
        priority="0",
        stamp=ordered,
        user=3,
    )
    site = rng.choice(firm.projects_of(company.id)).analytic_account_id
    distribution = json.dumps({str(site): 100})
    return [order] + [
        _ORDER_LINE.row(
            id=firm.take_id(_ORDER_LINE),
            name=line.name,
            sequence=10 * number,
            order_id=order_id,
            product_qty=line.quantity,
            product_uom_qty=line.quantity,
            price_unit=money(line.unit),
            price_subtotal=money(line.subtotal),
            price_tax=float(money(line.tax)),
            price_total=money(line.subtotal + line.tax),
            qty_received=line.quantity if received else 0,
            qty_invoiced=line.quantity if received else 0,
            date_planned=planned,
            analytic_distribution=distribution,
            company_id=company.id,
            partner_id=partner,
            currency_id=company.currency_id,
            state=state,
            stamp=ordered,
            user=3,
        )
        for number, line in enumerate(lines, start=1)
    ]


def _write_purchase_orders(firm: _Seeding, rng: random.Random) -> None:
    """Purchase orders in every state, with their lines, a chunk at a time."""
    total = firm.counts["purchase_orders"]
    for start in range(0, total, CHUNK):
        orders, lines = [], []
        for index in range(start, min(start + CHUNK, total)):
            order, *order_lines = _order_rows(firm, rng, _history_day(index, total))
            orders.append(order)
            lines.extend(order_lines)
        firm.copy(_ORDER, orders)
        firm.copy(_ORDER_LINE, lines)


# --- vendor bills -------------------------------------------------------------

_MOVE = _Table(
    "account_move",
    "name",
    "ref",
    "date",
    "state",
    "move_type",
    "journal_id",
    "company_id",
    "partner_id",
    "commercial_partner_id",
    "currency_id",
    "sequence_prefix",
    "sequence_number",
    "posted_before",
    "invoice_date",
    "invoice_date_due",
    "payment_reference",
    "payment_state",
    "amount_untaxed",
    "amount_tax",
    "amount_total",
    "amount_residual",
    "amount_untaxed_signed",
    "amount_total_signed",
    "amount_residual_signed",
    "inalterable_hash",
    "secure_sequence_number",
)
_MOVE_LINE = _Table(
    "account_move_line",
    "move_id",
    "move_name",
    "date",
    "parent_state",
    "journal_id",
    "company_id",
    "company_currency_id",
    "account_id",
    "partner_id",
    "currency_id",
    "name",
    "display_type",
    "sequence",
    "quantity",
    "price_unit",
    "price_subtotal",
    "price_total",
    "debit",
    "credit",
    "balance",
    "amount_currency",
    "amount_residual",
    "amount_residual_currency",
    "reconciled",
    "date_maturity",
    "analytic_distribution",
)
_ATTACHMENT = _Table(
    "ir_attachment",
    "name",
    "res_name",
    "res_model",
    "res_id",
    "company_id",
    "type",
    "public",
    "store_fname",
    "file_size",
    "checksum",
    "mimetype",
)
_PAYMENT_TERM_DAYS = 30


@dataclass
class _BillLine:
    """One line of a vendor bill, amounts in cents."""

    account_id: int
    name: str
    display_type: str
    debit: int
    credit: int
    quantity: int = 1
    price_unit: int = 0
    residual: int = 0
    analytic_account_id: int | None = None
    id: int = 0


@dataclass
class _Bill:
    """A vendor bill or refund while it is being built; amounts in cents."""

    id: int
    company: _Company
    partner_id: int
    move_type: str
    state: str
    day: date
    lines: list[_BillLine] = field(default_factory=list)
    untaxed: int = 0
    tax: int = 0
    payment_state: str = "not_paid"
    residual: int = 0
    name: str = "/"
    prefix: str | None = None
    number: int | None = None
    hash: str | None = None
    secure_number: int | None = None

    @property
    def total(self) -> int:
        return self.untaxed + self.tax

    @property
    def posted(self) -> bool:
        return self.state == "posted"


@dataclass
class _Journals:
    """Posting state per journal: last numbers per prefix and the hash chain."""

    numbers: dict[tuple[int, str], int] = field(default_factory=dict)
    chains: dict[int, tuple[str, int]] = field(default_factory=dict)

    def post(self, bill: _Bill) -> None:
        """Give a bill the next number of its journal, and hash it if locked."""
        journal = bill.company.bill_journal
        code = "RBILL" if bill.move_type == "in_refund" else "BILL"
        bill.prefix = f"{code}/{bill.day.year}/"
        bill.number = self.numbers.get((journal, bill.prefix), 0) + 1
        self.numbers[(journal, bill.prefix)] = bill.number
        bill.name = f"{bill.prefix}{bill.number:05d}"
        if not bill.company.hashed:
            return
        previous, count = self.chains.get(journal, ("", 0))
        bill.secure_number = count + 1
        bill.hash = inalterable_hash(
            previous,
            bill.name,
            bill.day,
            journal,
            bill.company.id,
            money(bill.total),
            [(ln.account_id, money(ln.debit), money(ln.credit)) for ln in bill.lines],
        )
        self.chains[journal] = (bill.hash, bill.secure_number)


def _new_bill(firm: _Seeding, rng: random.Random, day: date) -> _Bill:
    """A bill or refund: recent ones may still be drafts, a few are cancelled."""
    roll = rng.random()
    state = "cancel" if roll > 0.99 else "posted"
    if (ANCHOR_DATE - day).days < 10 and roll < 0.3:
        state = "draft"
    bill = _Bill(
        id=firm.take_id(_MOVE),
        company=firm.companies[1 if rng.random() < 0.72 else 2],
        partner_id=rng.choice(firm.vendors),
        move_type="in_refund" if rng.random() < 0.06 else "in_invoice",
        state=state,
        day=day,
    )
    _add_bill_lines(firm, rng, bill)
    for line in bill.lines:
        line.id = firm.take_id(_MOVE_LINE)
    if bill.posted:
        _settle(bill, rng)
    else:
        bill.residual = bill.total
    return bill


def _add_bill_lines(firm: _Seeding, rng: random.Random, bill: _Bill) -> None:
    """Product lines on the sites, then the tax line and the payable line."""
    projects = firm.projects_of(bill.company.id)
    refund = bill.move_type == "in_refund"
    for _ in range(rng.randint(2, 7)):
        name, (low, high), (qmin, qmax) = rng.choice(_CATALOGUE)
        quantity = rng.randint(qmin, max(qmin, qmax // 4))
        unit = rng.randrange(low, high)
        amount = quantity * unit
        bill.untaxed += amount
        bill.lines.append(
            _BillLine(
                rng.choice(bill.company.expense_accounts),
                name,
                "product",
                debit=0 if refund else amount,
                credit=amount if refund else 0,
                quantity=quantity,
                price_unit=unit,
                analytic_account_id=rng.choice(projects).analytic_account_id,
            )
        )
    bill.tax = bill.untaxed * bill.company.tax_percent // 100
    tax_name = f"VAT {bill.company.tax_percent}%"
    bill.lines.append(
        _BillLine(
            bill.company.tax_account,
            tax_name,
            "tax",
            debit=0 if refund else bill.tax,
            credit=bill.tax if refund else 0,
        )
    )
    bill.lines.append(
        _BillLine(
            bill.company.payable_account,
            "",
            "payment_term",
            debit=bill.total if refund else 0,
            credit=0 if refund else bill.total,
        )
    )


def _settle(bill: _Bill, rng: random.Random) -> None:
    """Decide how much of a posted bill is paid; older bills are paid more."""
    old = (ANCHOR_DATE - bill.day).days > 60
    weights = (80, 5, 5, 10) if old else (20, 5, 15, 60)
    bill.payment_state = rng.choices(
        ("paid", "in_payment", "partial", "not_paid"), weights
    )[0]
    if bill.payment_state == "partial":
        bill.residual = bill.total * rng.randint(10, 90) // 100
    elif bill.payment_state == "not_paid":
        bill.residual = bill.total
    payable = bill.lines[-1]
    # A bill's payable line is a credit, so what is owed is negative on it.
    payable.residual = bill.residual if payable.debit else -bill.residual


def _move_row(bill: _Bill, rng: random.Random) -> Row:
    # Odoo signs a vendor bill's totals negative, a refund's positive.
    sign = 1 if bill.move_type == "in_refund" else -1
    ref = f"INV-{rng.randrange(10_000, 99_999)}"
    return _MOVE.row(
        id=bill.id,
        name=bill.name,
        ref=ref,
        date=bill.day,
        state=bill.state,
        move_type=bill.move_type,
        journal_id=bill.company.bill_journal,
        company_id=bill.company.id,
        partner_id=bill.partner_id,
        commercial_partner_id=bill.partner_id,
        currency_id=bill.company.currency_id,
        sequence_prefix=bill.prefix,
        sequence_number=bill.number,
        posted_before=bill.posted,
        invoice_date=bill.day,
        invoice_date_due=bill.day + timedelta(days=_PAYMENT_TERM_DAYS),
        payment_reference=ref,
        payment_state=bill.payment_state,
        amount_untaxed=money(bill.untaxed),
        amount_tax=money(bill.tax),
        amount_total=money(bill.total),
        amount_residual=money(bill.residual),
        amount_untaxed_signed=money(sign * bill.untaxed),
        amount_total_signed=money(sign * bill.total),
        amount_residual_signed=money(sign * bill.residual),
        inalterable_hash=bill.hash,
        secure_sequence_number=bill.secure_number,
        stamp=_stamp(bill.day, rng),
        user=3,
    )


def _line_row(bill: _Bill, line: _BillLine, sequence: int) -> Row:
    balance = line.debit - line.credit
    company = bill.company
    product = line.display_type == "product"
    payable = line.display_type == "payment_term"
    with_tax = abs(balance) * (100 + company.tax_percent) // 100
    return _MOVE_LINE.row(
        id=line.id,
        move_id=bill.id,
        move_name=bill.name,
        date=bill.day,
        parent_state=bill.state,
        journal_id=company.bill_journal,
        company_id=company.id,
        company_currency_id=company.currency_id,
        account_id=line.account_id,
        partner_id=bill.partner_id,
        currency_id=company.currency_id,
        name=line.name,
        display_type=line.display_type,
        sequence=sequence,
        quantity=line.quantity,
        price_unit=money(line.price_unit),
        price_subtotal=money(abs(balance)) if product else None,
        price_total=money(with_tax) if product else None,
        debit=money(line.debit),
        credit=money(line.credit),
        balance=money(balance),
        amount_currency=money(balance),
        amount_residual=money(line.residual),
        amount_residual_currency=money(line.residual),
        reconciled=payable and bill.posted and line.residual == 0,
        date_maturity=bill.day + timedelta(days=_PAYMENT_TERM_DAYS)
        if payable
        else None,
        analytic_distribution=json.dumps({str(line.analytic_account_id): 100})
        if product
        else None,
        stamp=_midnight(bill.day),
        user=3,
    )


def _cost_row(firm: _Seeding, bill: _Bill, line: _BillLine) -> Row:
    """The project cost a posted bill line books: negative for a bill."""
    return _ANALYTIC_LINE.row(
        id=firm.take_id(_ANALYTIC_LINE),
        name=line.name,
        date=bill.day,
        amount=money(line.credit - line.debit),
        unit_amount=float(line.quantity),
        account_id=line.analytic_account_id,
        partner_id=bill.partner_id,
        company_id=bill.company.id,
        currency_id=bill.company.currency_id,
        category="vendor_bill",
        ref=bill.name,
        general_account_id=line.account_id,
        move_line_id=line.id,
        stamp=_midnight(bill.day),
        user=3,
    )


def _attachment_row(
    firm: _Seeding, rng: random.Random, record: tuple[str, int, str, int], kind: str
) -> Row:
    """An attachment of a record, its content written to the filestore."""
    model, res_id, res_name, company = record
    if kind == "pdf":
        header, mimetype = b"%PDF-1.4\n", "application/pdf"
    else:
        header, mimetype = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"
    content = header + rng.randbytes(rng.randrange(2_000, 24_000))
    store_fname, size, checksum = firm.store_file(content)
    return _ATTACHMENT.row(
        id=firm.take_id(_ATTACHMENT),
        name=f"{res_name.replace('/', '_')}.{kind}",
        res_name=res_name,
        res_model=model,
        res_id=res_id,
        company_id=company,
        type="binary",
        public=False,
        store_fname=store_fname,
        file_size=size,
        checksum=checksum,
        mimetype=mimetype,
        stamp=_CREATED + timedelta(minutes=res_id),
        user=3,
    )


def _bill_chunk(
    firm: _Seeding, rng: random.Random, journals: _Journals, days: Iterable[date]
) -> dict[_Table, list[Row]]:
    """Bills of some days with their lines, project costs and scans."""
    rows: dict[_Table, list[Row]] = {_MOVE: [], _MOVE_LINE: []}
    rows.update({_ANALYTIC_LINE: [], _ATTACHMENT: []})
    for day in days:
        bill = _new_bill(firm, rng, day)
        if bill.posted:
            journals.post(bill)
        rows[_MOVE].append(_move_row(bill, rng))
        for sequence, line in enumerate(bill.lines):
            rows[_MOVE_LINE].append(_line_row(bill, line, sequence * 10))
            if bill.posted and line.analytic_account_id:
                rows[_ANALYTIC_LINE].append(_cost_row(firm, bill, line))
        if bill.posted and rng.random() < 0.08:
            record = ("account.move", bill.id, bill.name, bill.company.id)
            rows[_ATTACHMENT].append(_attachment_row(firm, rng, record, "pdf"))
    return rows


def _write_vendor_bills(firm: _Seeding, rng: random.Random) -> None:
    """Vendor bills and refunds in date order, so numbers follow the dates."""
    total = firm.counts["vendor_bills"]
    journals = _Journals()
    for start in range(0, total, CHUNK):
        days = (_history_day(i, total) for i in range(start, min(start + CHUNK, total)))
        for table, rows in _bill_chunk(firm, rng, journals, days).items():
            firm.copy(table, rows)


# --- payroll ------------------------------------------------------------------

_RUN = _Table("hr_payslip_run", "name", "state", "date_start", "date_end", "company_id")
_SLIP = _Table(
    "hr_payslip",
    "name",
    "number",
    "employee_id",
    "payslip_run_id",
    "company_id",
    "date_from",
    "date_to",
    "state",
    "basic_wage",
    "gross_wage",
    "net_wage",
    "paid",
)
_SLIP_LINE = _Table(
    "hr_payslip_line",
    "name",
    "sequence",
    "code",
    "slip_id",
    "employee_id",
    "company_id",
    "rate",
    "amount",
    "quantity",
    "total",
    "date_from",
    "date_to",
)
_EARNINGS = (
    # code, name; amounts come from the employee, see _earnings
    ("BASIC", "Basic Salary"),
    ("OT", "Overtime 125%"),
    ("SITE", "Site Allowance"),
    ("TRAVEL", "Travel Allowance"),
    ("TOOL", "Tool Allowance"),
)
_DEDUCTIONS = (
    # code, name, rate of the gross in hundredths of a percent
    ("PENS", "Pension Insurance", -930),
    ("HEALTH", "Health Insurance", -815),
    ("UNEMP", "Unemployment Insurance", -130),
    ("CARE", "Long-term Care Insurance", -170),
)
_EMPLOYER = (
    # company contributions: on the payslip, not in the net
    ("COMP_PENS", "Employer Pension Insurance", 930),
    ("COMP_HEALTH", "Employer Health Insurance", 815),
    ("COMP_ACC", "Employer Accident Insurance (BG BAU)", 410),
)


@dataclass(frozen=True)
class _SlipLine:
    """A salary rule's result; total = amount x quantity x rate%, in cents."""

    code: str
    name: str
    rate: int
    amount: int
    quantity: int

    @property
    def total(self) -> int:
        product = self.amount * self.quantity * self.rate
        magnitude = (abs(product) + 5_000) // 10_000
        return magnitude if product >= 0 else -magnitude


def _slip_lines(employee: _Employee, rng: random.Random) -> list[_SlipLine]:
    """Earnings, GROSS, deductions, NET (= GROSS + deductions), then employer."""
    earnings = [
        (employee.monthly_wage_cents, 1, 10_000),
        (employee.hourly_cost_cents, rng.choice((0, 0, 4, 8, 12, 20)), 12_500),
        (1_500, rng.randint(14, 22), 10_000),
        (30, rng.randint(0, 1_600), 10_000),
        (2_500, 1, 10_000),
    ]
    lines = [
        _SlipLine(code, name, rate, amount, quantity)
        for (code, name), (amount, quantity, rate) in zip(
            _EARNINGS, earnings, strict=True
        )
        if quantity
    ]
    gross = sum(line.total for line in lines)
    lines.append(_SlipLine("GROSS", "Gross", 10_000, gross, 1))
    tax = ("TAX", "Income Tax", -rng.randint(1_200, 2_600))
    deductions = [_SlipLine(c, n, rate, gross, 1) for c, n, rate in (*_DEDUCTIONS, tax)]
    net = gross + sum(line.total for line in deductions)
    lines += [*deductions, _SlipLine("NET", "Net Salary", 10_000, net, 1)]
    lines += [_SlipLine(c, n, rate, gross, 1) for c, n, rate in _EMPLOYER]
    return lines


def _month_starts() -> list[date]:
    """First days of the twelve months ending with the anchor's month."""
    months = []
    year, month = ANCHOR_DATE.year, ANCHOR_DATE.month
    for _ in range(12):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


@dataclass(frozen=True)
class _Run:
    id: int
    company_id: int
    state: str
    first: date
    last: date


def _write_payroll(firm: _Seeding, rng: random.Random) -> None:
    """Monthly payslip batches per company; the newest ones are not closed."""
    runs = []
    months = _month_starts()
    for month in months:
        last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        for company in firm.companies:
            state = "close"
            if month == months[-1]:
                state = "verify" if company == 1 else "draft"
            runs.append(_Run(firm.take_id(_RUN), company, state, month, last))
    firm.copy(
        _RUN,
        [
            _RUN.row(
                id=run.id,
                name=f"Site crews {run.first:%B %Y}",
                state=run.state,
                date_start=run.first,
                date_end=run.last,
                company_id=run.company_id,
                stamp=_midnight(run.last),
                user=_PAYROLL_OFFICER,
            )
            for run in runs
        ],
    )
    for month in months:
        month_runs = {run.company_id: run for run in runs if run.first == month}
        for batch in range(0, len(firm.employees), CHUNK // 10):
            employees = firm.employees[batch : batch + CHUNK // 10]
            slips, lines = _payslips(firm, rng, month_runs, employees)
            firm.copy(_SLIP, slips)
            firm.copy(_SLIP_LINE, lines)


def _payslips(
    firm: _Seeding,
    rng: random.Random,
    runs: dict[int, _Run],
    employees: list[_Employee],
) -> tuple[list[Row], list[Row]]:
    """One payslip per employee in the company's batch, with its lines."""
    slips, rows = [], []
    for employee in employees:
        run = runs[employee.company_id]
        state = {"close": "done", "verify": "verify", "draft": "draft"}[run.state]
        if state == "done" and rng.random() < 0.02:
            state = "cancel"
        slip_id = firm.take_id(_SLIP)
        lines = _slip_lines(employee, rng)
        totals = {line.code: line.total for line in lines}
        common: dict[str, Any] = {"date_from": run.first, "date_to": run.last}
        common |= {"company_id": run.company_id, "employee_id": employee.id}
        common |= {"stamp": _midnight(run.last), "user": _PAYROLL_OFFICER}
        slips.append(
            _SLIP.row(
                id=slip_id,
                name=f"Salary Slip - {employee.name} - {run.first:%B %Y}",
                number=f"SLIP/{slip_id:05d}",
                payslip_run_id=run.id,
                state=state,
                basic_wage=money(totals["BASIC"]),
                gross_wage=money(totals["GROSS"]),
                net_wage=money(totals["NET"]),
                paid=state == "done",
                **common,
            )
        )
        rows += [
            _SLIP_LINE.row(
                id=firm.take_id(_SLIP_LINE),
                name=line.name,
                sequence=10 * number,
                code=line.code,
                slip_id=slip_id,
                rate=money(line.rate),
                amount=money(line.amount),
                quantity=Decimal(line.quantity),
                total=money(line.total),
                **common,
            )
            for number, line in enumerate(lines, start=1)
        ]
    return slips, rows


# --- attachments and queue jobs -----------------------------------------------


def _write_site_photos(firm: _Seeding, rng: random.Random) -> None:
    """Three progress photos per site, stored in the filestore."""
    rows = []
    for project in firm.projects:
        for photo in range(1, 4):
            name = f"SITE-{project.id:04d}-{photo}"
            record = ("project.project", project.id, name, project.company_id)
            rows.append(_attachment_row(firm, rng, record, "jpg"))
    firm.copy(_ATTACHMENT, rows)


_JOB = _Table(
    "queue_job",
    "uuid",
    "user_id",
    "company_id",
    "name",
    "model_name",
    "method_name",
    "func_string",
    "channel",
    "state",
    "priority",
    "exc_name",
    "retry",
    "max_retries",
    "date_created",
    "date_enqueued",
    "date_started",
    "date_done",
    "worker_pid",
)
_JOB_KINDS = (
    # model, method, channel, description
    ("account.move", "_post_and_send", "root.account", "Send vendor bill reminder"),
    ("mail.mail", "send", "root.mail", "Send queued mail"),
    ("purchase.order", "_send_reminder_mail", "root.purchase", "Purchase reminder"),
    ("hr.payslip", "action_payslip_done", "root.payroll", "Confirm payslips"),
)


def _job_state(index: int, total: int, rng: random.Random) -> str:
    """Old jobs are finished; the last ones are still queued or running."""
    remaining = total - index
    if remaining <= 2:
        return "started"
    if remaining <= 5:
        return rng.choice(("pending", "enqueued"))
    return rng.choices(("done", "failed", "cancelled"), (93, 4, 3))[0]


def _job_row(firm: _Seeding, rng: random.Random, index: int, total: int) -> Row:
    model, method, channel, label = rng.choice(_JOB_KINDS)
    state = _job_state(index, total, rng)
    created = _stamp(_history_day(index, total), rng)
    if state in ("started", "pending", "enqueued"):
        # Still queued or running in the late afternoon of the anchor day.
        created = _midnight(ANCHOR_DATE) + timedelta(hours=17, minutes=index % 50)
    started = created + timedelta(seconds=rng.randint(1, 30))
    failed = state == "failed"
    return _JOB.row(
        id=firm.take_id(_JOB),
        uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        user_id=2,
        company_id=1,
        name=label,
        model_name=model,
        method_name=method,
        func_string=f"{model}().{method}()",
        channel=channel,
        state=state,
        priority=10,
        exc_name="odoo.exceptions.UserError" if failed else None,
        retry=1 if failed else 0,
        max_retries=5,
        date_created=created,
        date_enqueued=None if state == "pending" else created,
        date_started=started if state in ("done", "failed", "started") else None,
        date_done=started + timedelta(seconds=2) if state == "done" else None,
        worker_pid=4242 if state == "started" else None,
        stamp=created,
        user=2,
    )


def _write_queue_jobs(firm: _Seeding, rng: random.Random) -> None:
    """OCA queue jobs: mostly done, some failed, two left 'started'."""
    total = firm.counts["queue_jobs"]
    firm.copy(_JOB, [_job_row(firm, rng, index, total) for index in range(total)])
