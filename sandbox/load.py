"""Site activity against a live Odoo database, with a ledger of every commit.

While a runbook fails over or restores, :func:`run_load` keeps writing what a
construction firm writes all day: crews' timesheets, vendor bills posted into
the purchase journal, and second approvals of large purchase orders. Each
transaction is chosen at random, runs on its own, and once its COMMIT has
returned, one JSON line goes to the ledger file (flushed and fsynced, outside
the database). :func:`count_lost` later reads that ledger against a recovered
database and names the committed transactions the recovery lost.

A transaction whose COMMIT outcome is unknown, because the connection dropped
while the COMMIT was on its way, is neither counted as committed nor as
failed: it goes to a separate "in doubt" ledger next to the main one
(``<ledger>.in-doubt``). Such a transaction may or may not be in the database,
so a loss count must not include it; :func:`count_lost` reports how many of
them turned up.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel

from odoo_dr.app_control import AppOrder, AppStatus, read_order, write_status
from sandbox.seed import inalterable_hash, money

logger = logging.getLogger(__name__)

Kind = Literal["timesheet", "vendor_bill", "purchase_approval"]
_KIND_WEIGHTS: dict[Kind, int] = {
    "timesheet": 60,
    "vendor_bill": 25,
    "purchase_approval": 15,
}
_CONNECT_OPTIONS: dict[str, Any] = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    # Odoo keeps naive UTC timestamps: localtimestamp is UTC in this session.
    "options": "-c statement_timeout=10000 -c TimeZone=UTC",
}
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0


class LedgerEntry(BaseModel):
    """One committed (or in-doubt) transaction of the load generator."""

    seq: int
    kind: Kind
    table: str
    id: int
    ref: str
    commit_time: datetime
    xid: int
    server: str | None = None  # host:port of the database that committed it


class LoadSummary(BaseModel):
    """What one run of the load generator did."""

    commits: int
    failures: int
    in_doubt: int
    reconnects: int
    by_kind: dict[str, int]
    seconds: float
    ledger: Path
    in_doubt_ledger: Path


class LossReport(BaseModel):
    """Committed transactions of a ledger that a database does not hold."""

    checked: int
    present: int
    lost: list[LedgerEntry]
    before: datetime | None
    in_doubt_checked: int
    in_doubt_present: int

    @property
    def lost_count(self) -> int:
        """How many committed transactions are missing."""
        return len(self.lost)


def in_doubt_ledger(ledger: Path) -> Path:
    """Where transactions with an unknown COMMIT outcome are recorded."""
    return ledger.with_name(ledger.name + ".in-doubt")


@dataclass(frozen=True)
class _Purchasing:
    """What a company needs to post a vendor bill."""

    company_id: int
    journal_id: int
    currency_id: int
    payable_account: int
    tax_account: int
    expense_accounts: list[int]
    # The schema subset has no tax table: every load bill carries 19% VAT.
    tax_percent: int = 19


@dataclass
class _SiteData:
    """Projects, crews, vendors and journals the generator writes against."""

    projects: list[tuple[int, int, int]] = field(default_factory=list)
    crews: dict[int, list[tuple[int, Decimal]]] = field(default_factory=dict)
    vendors: list[int] = field(default_factory=list)
    purchasing: dict[int, _Purchasing] = field(default_factory=dict)


def _read_site_data(conn: psycopg.Connection) -> _SiteData:
    site = _SiteData()
    site.projects = conn.execute(
        "SELECT id, analytic_account_id, company_id FROM project_project "
        "WHERE active AND analytic_account_id IS NOT NULL ORDER BY id"
    ).fetchall()
    for eid, company, cost in conn.execute(
        "SELECT id, company_id, hourly_cost FROM hr_employee WHERE active ORDER BY id"
    ):
        site.crews.setdefault(company, []).append((eid, cost or Decimal(40)))
    site.vendors = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM res_partner WHERE supplier_rank > 0 ORDER BY id LIMIT 500"
        )
    ]
    rows = conn.execute(
        "SELECT j.id, j.company_id, c.currency_id, "
        "(SELECT array_agg(a.id ORDER BY a.id) FROM account_account a "
        " WHERE a.company_id = j.company_id AND a.account_type = %s), "
        "(SELECT array_agg(a.id ORDER BY a.id) FROM account_account a "
        " WHERE a.company_id = j.company_id AND a.account_type = %s), "
        "(SELECT array_agg(a.id ORDER BY a.id) FROM account_account a "
        " WHERE a.company_id = j.company_id AND a.account_type LIKE 'expense%%') "
        "FROM account_journal j JOIN res_company c ON c.id = j.company_id "
        "WHERE j.type = 'purchase' AND j.active ORDER BY j.id",
        ("liability_payable", "asset_current"),
    ).fetchall()
    for journal, company, currency, payable, tax, expense in rows:
        if company not in site.purchasing and payable and tax and expense:
            site.purchasing[company] = _Purchasing(
                company, journal, currency, payable[0], tax[0], expense
            )
    site.projects = [p for p in site.projects if p[2] in site.crews]
    if not site.projects or not site.vendors or not site.purchasing:
        raise ValueError("the database holds no projects, crews or vendors to load")
    return site


@dataclass
class _Written:
    """The row a transaction wrote, before its COMMIT."""

    table: str
    id: int


def _insert(
    cur: psycopg.Cursor[Any],
    table: str,
    values: dict[str, Any],
    now: tuple[str, ...] = ("create_date", "write_date"),
) -> int:
    """Insert one row, the ``now`` columns set to the time; return its id."""
    user = values.pop("user", 2)
    columns = [*values, "create_uid", "write_uid"]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, [*columns, *now])),
        sql.SQL(", ").join(
            [sql.Placeholder()] * len(columns) + [sql.SQL("localtimestamp")] * len(now)
        ),
    )
    cur.execute(query, [*values.values(), user, user])
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"INSERT INTO {table} returned no id")
    return int(row[0])


def _write_timesheet(
    cur: psycopg.Cursor[Any], site: _SiteData, rng: random.Random, ref: str
) -> _Written:
    """A crew member books hours on a site; the cost is negative."""
    project, analytic, company = rng.choice(site.projects)
    employee, hourly_cost = rng.choice(site.crews[company])
    hours = rng.choice((2.0, 4.0, 8.0, 9.5))
    currency = site.purchasing[company].currency_id if company in site.purchasing else 1
    line_id = _insert(
        cur,
        "account_analytic_line",
        {
            "name": "Site works (load)",
            "date": _today(cur),
            "amount": -(Decimal(hours) * hourly_cost).quantize(Decimal("0.01")),
            "unit_amount": hours,
            "account_id": analytic,
            "company_id": company,
            "currency_id": currency,
            "category": "other",
            "ref": ref,
            "project_id": project,
            "employee_id": employee,
        },
    )
    return _Written("account_analytic_line", line_id)


def _today(cur: psycopg.Cursor[Any]) -> date:
    cur.execute("SELECT current_date")
    row = cur.fetchone()
    return row[0] if row else date.today()


@dataclass
class _Posting:
    """A vendor bill's number and its place on the journal's hash chain."""

    day: date
    prefix: str
    number: int
    previous_hash: str = ""
    secure_number: int | None = None

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.number:05d}"


def _next_posting(cur: psycopg.Cursor[Any], journal_id: int) -> _Posting:
    """Lock the journal, then take its next number and the hash chain's tail.

    The row lock serializes posting into one journal, as Odoo does, so
    concurrent bills neither share a number nor fork the hash chain.
    """
    cur.execute(
        "SELECT current_date, restrict_mode_hash_table FROM account_journal "
        "WHERE id = %s FOR UPDATE",
        (journal_id,),
    )
    row = cur.fetchone()
    if row is None:
        raise ValueError(f"purchase journal {journal_id} does not exist")
    today, hashed = row
    prefix = f"BILL/{today.year}/"
    cur.execute(
        "SELECT coalesce(max(sequence_number), 0) + 1 FROM account_move "
        "WHERE journal_id = %s AND sequence_prefix = %s AND state = 'posted'",
        (journal_id, prefix),
    )
    number = cur.fetchone()
    posting = _Posting(today, prefix, number[0] if number else 1)
    if hashed:
        cur.execute(
            "SELECT inalterable_hash, secure_sequence_number FROM account_move "
            "WHERE journal_id = %s AND secure_sequence_number IS NOT NULL "
            "ORDER BY secure_sequence_number DESC LIMIT 1",
            (journal_id,),
        )
        previous, secure = cur.fetchone() or ("", 0)
        posting.previous_hash, posting.secure_number = previous, secure + 1
    return posting


@dataclass(frozen=True)
class _LoadLine:
    """A vendor bill line in cents."""

    account_id: int
    name: str
    display_type: str
    quantity: int
    debit: int
    credit: int


def _bill_lines(buying: _Purchasing, rng: random.Random) -> list[_LoadLine]:
    """One to three material lines, the tax line and the payable line."""
    lines = []
    for _ in range(rng.randint(1, 3)):
        quantity, unit = rng.randint(1, 40), rng.randrange(500, 90_000)
        account = rng.choice(buying.expense_accounts)
        amount = quantity * unit
        lines.append(
            _LoadLine(account, "Site material (load)", "product", quantity, amount, 0)
        )
    untaxed = sum(line.debit for line in lines)
    tax = untaxed * buying.tax_percent // 100
    lines.append(_LoadLine(buying.tax_account, "VAT", "tax", 1, tax, 0))
    total = untaxed + tax
    lines.append(_LoadLine(buying.payable_account, "", "payment_term", 1, 0, total))
    return lines


def _write_vendor_bill(
    cur: psycopg.Cursor[Any], site: _SiteData, rng: random.Random, ref: str
) -> _Written:
    """Post a vendor bill with the journal's next number, chained if locked."""
    buying = rng.choice(list(site.purchasing.values()))
    projects = [p for p in site.projects if p[2] == buying.company_id] or site.projects
    analytic = rng.choice(projects)[1]
    partner = rng.choice(site.vendors)
    posting = _next_posting(cur, buying.journal_id)
    lines = _bill_lines(buying, rng)
    total = lines[-1].credit
    untaxed = sum(line.debit for line in lines if line.display_type == "product")
    chain = None
    if posting.secure_number:
        chain = inalterable_hash(
            posting.previous_hash,
            posting.name,
            posting.day,
            buying.journal_id,
            buying.company_id,
            money(total),
            [(ln.account_id, money(ln.debit), money(ln.credit)) for ln in lines],
        )
    move_id = _insert(
        cur,
        "account_move",
        {
            "name": posting.name,
            "ref": ref,
            "date": posting.day,
            "state": "posted",
            "move_type": "in_invoice",
            "journal_id": buying.journal_id,
            "company_id": buying.company_id,
            "partner_id": partner,
            "commercial_partner_id": partner,
            "currency_id": buying.currency_id,
            "sequence_prefix": posting.prefix,
            "sequence_number": posting.number,
            "posted_before": True,
            "invoice_date": posting.day,
            "invoice_date_due": posting.day + timedelta(days=30),
            "payment_reference": ref,
            "payment_state": "not_paid",
            "amount_untaxed": money(untaxed),
            "amount_tax": money(total - untaxed),
            "amount_total": money(total),
            "amount_residual": money(total),
            "amount_untaxed_signed": money(-untaxed),
            "amount_total_signed": money(-total),
            "amount_residual_signed": money(-total),
            "inalterable_hash": chain,
            "secure_sequence_number": posting.secure_number,
            "user": 3,
        },
    )
    _insert_bill_lines(cur, move_id, buying, posting, partner, analytic, lines)
    return _Written("account_move", move_id)


def _insert_bill_lines(
    cur: psycopg.Cursor[Any],
    move_id: int,
    buying: _Purchasing,
    posting: _Posting,
    partner: int,
    analytic: int,
    lines: list[_LoadLine],
) -> None:
    """The bill's lines in order, each material line with its project cost."""
    distribution = json.dumps({str(analytic): 100})
    for sequence, line in enumerate(lines):
        balance = money(line.debit - line.credit)
        payable = line.display_type == "payment_term"
        owed = balance if payable else money(0)
        line_id = _insert(
            cur,
            "account_move_line",
            {
                "move_id": move_id,
                "move_name": posting.name,
                "date": posting.day,
                "parent_state": "posted",
                "journal_id": buying.journal_id,
                "company_id": buying.company_id,
                "company_currency_id": buying.currency_id,
                "account_id": line.account_id,
                "partner_id": partner,
                "currency_id": buying.currency_id,
                "name": line.name,
                "display_type": line.display_type,
                "sequence": sequence * 10,
                "quantity": line.quantity,
                "debit": money(line.debit),
                "credit": money(line.credit),
                "balance": balance,
                "amount_currency": balance,
                "amount_residual": owed,
                "amount_residual_currency": owed,
                "reconciled": False,
                "date_maturity": posting.day + timedelta(days=30) if payable else None,
                "analytic_distribution": distribution
                if line.display_type == "product"
                else None,
                "user": 3,
            },
        )
        if line.display_type == "product":
            _insert(
                cur,
                "account_analytic_line",
                {
                    "name": line.name,
                    "date": posting.day,
                    "amount": -balance,
                    "unit_amount": float(line.quantity),
                    "account_id": analytic,
                    "partner_id": partner,
                    "company_id": buying.company_id,
                    "currency_id": buying.currency_id,
                    "category": "vendor_bill",
                    "ref": posting.name,
                    "general_account_id": line.account_id,
                    "move_line_id": line_id,
                    "user": 3,
                },
            )


def _approve_purchase(
    cur: psycopg.Cursor[Any], site: _SiteData, rng: random.Random, ref: str
) -> _Written | None:
    """Give the second approval to the oldest order waiting for it.

    The approval is logged in the order's chatter, as Odoo does; the
    message's ``message_id`` carries the ledger's ref.
    """
    cur.execute(
        "SELECT id, name FROM purchase_order WHERE state = 'to approve' "
        "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    row = cur.fetchone()
    if row is None:
        return None
    order_id, name = row
    cur.execute(
        "UPDATE purchase_order SET state = 'purchase', invoice_status = 'to invoice', "
        "date_approve = localtimestamp, write_uid = 2, write_date = localtimestamp "
        "WHERE id = %s",
        (order_id,),
    )
    cur.execute(
        "UPDATE purchase_order_line SET state = 'purchase' WHERE order_id = %s",
        (order_id,),
    )
    _insert(
        cur,
        "mail_message",
        {
            "model": "purchase.order",
            "res_id": order_id,
            "record_name": name,
            "body": "Purchase Order approved",
            "message_type": "notification",
            "author_id": 3,
            "message_id": ref,
        },
        now=("date", "create_date", "write_date"),
    )
    return _Written("purchase_order", order_id)


_WRITERS = {
    "timesheet": _write_timesheet,
    "vendor_bill": _write_vendor_bill,
    "purchase_approval": _approve_purchase,
}


def run_load(
    conninfo: str,
    *,
    rate: float,
    duration: float | None,
    ledger: Path,
    seed: int | None = None,
    stop: threading.Event | None = None,
    control_file: Path | None = None,
) -> LoadSummary:
    """Write site activity at about ``rate`` transactions a second.

    Each transaction is a timesheet, a posted vendor bill or a purchase
    approval, chosen at random. After its COMMIT returns, one JSON line
    (``seq``, ``kind``, ``table``, ``id``, ``ref``, ``commit_time``, ``xid``)
    is appended to ``ledger`` and fsynced. A transaction that fails is not
    recorded; one whose COMMIT outcome is unknown (the connection dropped
    during COMMIT) goes to :func:`in_doubt_ledger` instead. When the server
    goes away the generator reconnects with backoff and carries on.

    Args:
        conninfo: libpq connection string of the Odoo database.
        rate: Target transactions per second.
        duration: Seconds to run; None runs until ``stop`` is set.
        ledger: File the committed transactions are appended to.
        seed: Seed of the random choices; None draws one from the system.
        stop: Set it to end the run early (or at all, without a duration).
        control_file: An app-tier control file (odoo_dr.app_control): the
            generator pauses while it says so, with no connection open and
            no transaction in flight, and moves to the database it names.

    Returns:
        Commits, failures, in-doubt transactions, reconnects and duration.

    Raises:
        ValueError: ``rate`` is not positive, or neither ``duration`` nor
            ``stop`` would ever end the run.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if duration is None and stop is None:
        raise ValueError("give a duration or a stop event, or the load never ends")
    run = _LoadRun(
        conninfo, rate, random.Random(seed), ledger, stop or threading.Event()
    )
    run.control = control_file
    return run.run(duration)


class _LoadRun:
    """One run of the generator: pacing, connection, counters and ledgers."""

    def __init__(
        self,
        conninfo: str,
        rate: float,
        rng: random.Random,
        ledger: Path,
        stop: threading.Event,
    ) -> None:
        self.conninfo, self.rate, self.rng, self.stop = conninfo, rate, rng, stop
        self.ledger, self.doubt_ledger = ledger, in_doubt_ledger(ledger)
        self.commits = self.failures = self.in_doubt = self.reconnects = 0
        self.by_kind: dict[str, int] = {}
        self.conn: psycopg.Connection | None = None
        self.site: _SiteData | None = None
        self.seq = max(_last_seq(ledger), _last_seq(self.doubt_ledger))
        self.paced = 0
        self.deadline = float("inf")
        self.t0 = 0.0
        self.control: Path | None = None
        self.obeyed: AppStatus | None = None

    def run(self, duration: float | None) -> LoadSummary:
        started = self.t0 = time.monotonic()
        if duration is not None:
            self.deadline = started + duration
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        logger.info("load started at %.1f tx/s, ledger %s", self.rate, self.ledger)
        try:
            while self._pace() and self._obey():
                if self.conn is None and not self._connect():
                    continue  # the run ended, or a new order came: see above
                self._one_transaction()
        finally:
            if self.conn is not None:
                self.conn.close()
            self._answer("stopped")
        logger.info(
            "load ended: %d commits, %d failures, %d in doubt, %d reconnects",
            self.commits,
            self.failures,
            self.in_doubt,
            self.reconnects,
        )
        return LoadSummary(
            commits=self.commits,
            failures=self.failures,
            in_doubt=self.in_doubt,
            reconnects=self.reconnects,
            by_kind=dict(sorted(self.by_kind.items())),
            seconds=round(time.monotonic() - started, 3),
            ledger=self.ledger,
            in_doubt_ledger=self.doubt_ledger,
        )

    def _running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def _obey(self) -> bool:
        """Follow the control file, if any; False when the run ended paused."""
        if self.control is None:
            return True
        while self._running():
            order = read_order(self.control) or AppOrder()
            target = (order.host, order.port)
            if order.host and target != self._target():
                # Moved to another database, as pods restart on a new config.
                self._drop_connection()
                self.conninfo = psycopg.conninfo.make_conninfo(
                    self.conninfo, host=order.host, port=order.port
                )
            if not order.paused:
                self._answer("running", order.generation)
                return True
            if self.conn is not None:
                self._drop_connection()
            self._answer("paused", order.generation)
            self.stop.wait(0.02)
        return False

    def _new_order(self) -> bool:
        """Whether the control file now says pause, or another database."""
        if self.control is None:
            return False
        order = read_order(self.control)
        if order is None:
            return False
        moved = order.host is not None and (order.host, order.port) != self._target()
        return order.paused or moved

    def _target(self) -> tuple[str | None, int | None]:
        params = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        host, port = params.get("host"), params.get("port")
        return (str(host) if host else None), (int(port) if port else None)

    def _answer(self, state: str, generation: int | None = None) -> None:
        if self.control is None:
            return
        host, port = self._target()
        if generation is None:
            generation = self.obeyed.generation if self.obeyed else 0
        status = AppStatus(
            generation=generation,
            state=state,  # type: ignore[arg-type]
            pid=os.getpid(),
            host=host,
            port=port,
        )
        if status != self.obeyed:
            write_status(self.control, status)
            self.obeyed = status

    def _pace(self) -> bool:
        """Wait for the next slot of the schedule; False when the run is over."""
        now = time.monotonic()
        due = self.t0 + self.paced / self.rate
        if now - due > 1.0:
            # After an outage, start a fresh schedule instead of a burst.
            self.t0, self.paced, due = now, 0, now
        self.paced += 1
        wait = min(due, self.deadline) - now
        if wait > 0:
            self.stop.wait(wait)
        return self._running()

    def _connect(self) -> bool:
        """Connect with exponential backoff until connected or the run ends."""
        delay = _BACKOFF_FIRST
        while self._running() and not self._new_order():
            try:
                self.conn = psycopg.connect(self.conninfo, **_CONNECT_OPTIONS)
                self.site = _read_site_data(self.conn)
                self.conn.commit()
                return True
            except psycopg.OperationalError as exc:
                self._drop_connection()
                logger.info("load cannot connect (%s); retrying in %.2f s", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
        return False

    def _drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
            self.reconnects += 1

    def _one_transaction(self) -> None:
        assert self.conn is not None and self.site is not None
        self.seq += 1
        kind: Kind = self.rng.choices(
            list(_KIND_WEIGHTS), list(_KIND_WEIGHTS.values())
        )[0]
        ref = f"load:{self.seq}:{self.rng.getrandbits(48):012x}"
        try:
            kind, entry = self._write(kind, ref)
        except psycopg.Error as exc:
            self.failures += 1
            logger.warning("load transaction %d (%s) failed: %s", self.seq, kind, exc)
            self._after_error()
            return
        self._commit(entry)

    def _write(self, kind: Kind, ref: str) -> tuple[Kind, LedgerEntry]:
        """Run one transaction up to, not including, its COMMIT."""
        assert self.conn is not None and self.site is not None
        with self.conn.cursor() as cur:
            written = _WRITERS[kind](cur, self.site, self.rng, ref)
            if written is None:
                # No order is waiting for approval: book hours instead.
                kind = "timesheet"
                written = _write_timesheet(cur, self.site, self.rng, ref)
            cur.execute("SELECT pg_current_xact_id()::text::bigint, clock_timestamp()")
            xid, stamp = cur.fetchone() or (0, None)
        host, port = self._target()
        entry = LedgerEntry(
            seq=self.seq,
            kind=kind,
            table=written.table,
            id=written.id,
            ref=ref,
            commit_time=stamp,
            xid=xid,
            server=f"{host}:{port}",
        )
        return kind, entry

    def _commit(self, entry: LedgerEntry) -> None:
        assert self.conn is not None
        try:
            self.conn.commit()
        except psycopg.Error as exc:
            if _outcome_unknown(self.conn, exc):
                self.in_doubt += 1
                logger.warning("load transaction %d in doubt: %s", entry.seq, exc)
                _append(self.doubt_ledger, entry)
            else:
                self.failures += 1
                logger.warning("load transaction %d refused: %s", entry.seq, exc)
            self._after_error()
            return
        self.commits += 1
        self.by_kind[entry.kind] = self.by_kind.get(entry.kind, 0) + 1
        _append(self.ledger, entry)

    def _after_error(self) -> None:
        """Roll back a live connection; drop a broken one for a reconnect."""
        assert self.conn is not None
        if self.conn.broken or self.conn.closed:
            self._drop_connection()
            return
        try:
            self.conn.rollback()
        except psycopg.Error:
            self._drop_connection()


def _outcome_unknown(conn: psycopg.Connection, exc: psycopg.Error) -> bool:
    """Whether a failed COMMIT may still have committed on the server.

    The server answers a COMMIT it refused with an error of its own (a
    serialization failure, a deferred constraint). When the connection broke
    instead, or the server was shutting down, the COMMIT may have been
    written before the answer was lost.
    """
    state = exc.sqlstate or ""
    return conn.broken or conn.closed or not state or state[:2] in ("08", "57")


def _append(path: Path, entry: LedgerEntry) -> None:
    """Append one JSON line and make it durable before going on."""
    with path.open("a", encoding="utf-8") as ledger:
        ledger.write(entry.model_dump_json() + "\n")
        ledger.flush()
        os.fsync(ledger.fileno())


def read_ledger(path: Path) -> list[LedgerEntry]:
    """Read a ledger; a torn last line (a crash mid-write) is skipped.

    Args:
        path: The ledger file; a missing file reads as empty.

    Returns:
        The entries, in the order they were written.
    """
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            entries.append(LedgerEntry.model_validate_json(line))
        except ValueError:
            logger.warning("ledger %s line %d is unreadable; skipped", path, number)
    return entries


def _last_seq(path: Path) -> int:
    return max((entry.seq for entry in read_ledger(path)), default=0)


# How to find the row of each kind of ledger entry.
_PRESENCE_QUERIES = {
    "account_analytic_line": (
        "SELECT l.seq FROM unnest(%s::bigint[], %s::int[], %s::text[]) "
        "AS l(seq, id, ref) JOIN account_analytic_line a "
        "ON a.id = l.id AND a.ref = l.ref"
    ),
    "account_move": (
        "SELECT l.seq FROM unnest(%s::bigint[], %s::int[], %s::text[]) "
        "AS l(seq, id, ref) JOIN account_move m "
        "ON m.id = l.id AND m.ref = l.ref AND m.state = 'posted'"
    ),
    "purchase_order": (
        "SELECT l.seq FROM unnest(%s::bigint[], %s::int[], %s::text[]) "
        "AS l(seq, id, ref) JOIN purchase_order o "
        "ON o.id = l.id AND o.state IN ('purchase', 'done') "
        "WHERE EXISTS (SELECT 1 FROM mail_message mm WHERE mm.model = "
        "'purchase.order' AND mm.res_id = o.id AND mm.message_id = l.ref)"
    ),
}


def count_lost(
    ledger: Path, conninfo: str, *, before: datetime | None = None
) -> LossReport:
    """Find the ledger's committed transactions that a database lacks.

    Args:
        ledger: The ledger :func:`run_load` wrote.
        conninfo: libpq connection string of the (recovered) database.
        before: Only check transactions committed at or before this time,
            e.g. a point-in-time recovery target.

    Returns:
        How many were checked and found, and the lost entries; in-doubt
        transactions are counted apart and never as lost.
    """
    entries = [
        e for e in read_ledger(ledger) if before is None or e.commit_time <= before
    ]
    doubtful = [
        e
        for e in read_ledger(in_doubt_ledger(ledger))
        if before is None or e.commit_time <= before
    ]
    with psycopg.connect(conninfo, **_CONNECT_OPTIONS) as conn:
        present = _present(conn, entries)
        doubtful_present = _present(conn, doubtful)
    lost = [entry for entry in entries if entry.seq not in present]
    if lost:
        logger.warning(
            "%d of %d committed load transactions are missing", len(lost), len(entries)
        )
    return LossReport(
        checked=len(entries),
        present=len(entries) - len(lost),
        lost=lost,
        before=before,
        in_doubt_checked=len(doubtful),
        in_doubt_present=len(doubtful_present),
    )


def _committed_by(
    entries: list[LedgerEntry], before: datetime | None
) -> list[LedgerEntry]:
    return [e for e in entries if before is None or e.commit_time <= before]


def _present(conn: psycopg.Connection, entries: list[LedgerEntry]) -> set[int]:
    """The ``seq`` of each entry whose row the database holds."""
    found: set[int] = set()
    for table, query in _PRESENCE_QUERIES.items():
        mine = [e for e in entries if e.table == table]
        if not mine:
            continue
        rows = conn.execute(
            query,
            ([e.seq for e in mine], [e.id for e in mine], [e.ref for e in mine]),
        ).fetchall()
        found.update(row[0] for row in rows)
    return found
