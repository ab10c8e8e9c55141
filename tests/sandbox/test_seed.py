import hashlib
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sandbox import odoo_schema
from sandbox.seed import SeedRefusedError, SeedSummary, inalterable_hash, seed_database
from tests.clusters import Cluster

SCALE = 0.1


@pytest.fixture(scope="module")
def seeded(
    pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, SeedSummary, Path]:
    conninfo = pg_cluster.create_database()
    filestore = tmp_path_factory.mktemp("filestore")
    summary = seed_database(conninfo, scale=SCALE, seed=42, filestore=filestore)
    return conninfo, summary, filestore


def _rows(conninfo: str, query: str) -> list[tuple]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query).fetchall()


def _content_checksum(conninfo: str) -> str:
    digest = hashlib.sha256()
    with psycopg.connect(conninfo) as conn:
        for table in odoo_schema.TABLES:
            query = sql.SQL(
                "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) "
                "FROM {} t"
            ).format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            digest.update(f"{table}:{row[0] if row else ''}".encode())
    return digest.hexdigest()


def test_summary_counts_match_the_tables(seeded) -> None:
    conninfo, summary, _ = seeded
    for table, count in summary.rows.items():
        query = f"SELECT count(*) FROM {table}"  # noqa: S608 - names from the summary
        assert _rows(conninfo, query) == [(count,)], table
    assert summary.database_bytes > 0


def test_every_move_is_balanced(seeded) -> None:
    conninfo, _, _ = seeded
    unbalanced = _rows(
        conninfo,
        "SELECT move_id FROM account_move_line GROUP BY move_id "
        "HAVING sum(debit) <> sum(credit) OR sum(balance) <> 0",
    )
    assert unbalanced == []
    assert _rows(
        conninfo,
        "SELECT count(*) FROM account_move_line WHERE balance <> debit - credit",
    ) == [(0,)]


def test_bill_totals_and_residuals_agree_with_payable_lines(seeded) -> None:
    conninfo, _, _ = seeded
    wrong = _rows(
        conninfo,
        "SELECT m.id FROM account_move m JOIN account_move_line l "
        "ON l.move_id = m.id AND l.display_type = 'payment_term' "
        "WHERE m.amount_total <> l.debit + l.credit "
        "OR (m.state = 'posted' AND m.amount_residual <> abs(l.amount_residual)) "
        "OR (m.payment_state IN ('paid', 'in_payment') AND m.amount_residual <> 0) "
        "OR (m.payment_state = 'partial' AND NOT m.amount_residual "
        "    BETWEEN 0.01 AND m.amount_total - 0.01) "
        "OR (m.payment_state = 'not_paid' AND m.amount_residual <> m.amount_total)",
    )
    assert wrong == []
    states = {
        row[0]
        for row in _rows(
            conninfo,
            "SELECT DISTINCT payment_state FROM account_move WHERE state = 'posted'",
        )
    }
    assert {"paid", "partial", "not_paid"} <= states
    types = _rows(conninfo, "SELECT DISTINCT move_type FROM account_move ORDER BY 1")
    assert types == [("in_invoice",), ("in_refund",)]


def test_posted_numbers_have_no_gaps_per_journal_and_prefix(seeded) -> None:
    conninfo, _, _ = seeded
    gaps = _rows(
        conninfo,
        "SELECT journal_id, sequence_prefix FROM account_move WHERE state = 'posted' "
        "GROUP BY 1, 2 HAVING min(sequence_number) <> 1 "
        "OR max(sequence_number) <> count(*) "
        "OR count(DISTINCT sequence_number) <> count(*)",
    )
    assert gaps == []
    assert _rows(
        conninfo,
        "SELECT count(*) FROM account_move WHERE state = 'posted' "
        "AND name <> sequence_prefix || lpad(sequence_number::text, 5, '0')",
    ) == [(0,)]


def verify_hash_chains(conninfo: str) -> int:
    """Recompute every hash-locked journal's chain; return the entries checked."""
    rows = _rows(
        conninfo,
        "SELECT m.journal_id, m.secure_sequence_number, m.inalterable_hash, m.name, "
        "m.date, m.company_id, m.amount_total, "
        "array_agg(ARRAY[l.account_id::numeric, l.debit, l.credit] ORDER BY l.id) "
        "FROM account_move m JOIN account_journal j ON j.id = m.journal_id "
        "JOIN account_move_line l ON l.move_id = m.id "
        "WHERE j.restrict_mode_hash_table AND m.state = 'posted' "
        "GROUP BY m.id ORDER BY m.journal_id, m.secure_sequence_number",
    )
    previous: dict[int, tuple[str, int]] = {}
    for journal, secure, stored, name, day, company, total, lines in rows:
        last_hash, last_number = previous.get(journal, ("", 0))
        assert secure == last_number + 1, name
        expected = inalterable_hash(
            last_hash,
            name,
            day,
            journal,
            company,
            total,
            [(int(account), debit, credit) for account, debit, credit in lines],
        )
        assert stored == expected, name
        previous[journal] = (stored, secure)
    return len(rows)


def test_hash_chain_of_the_locked_purchase_journal_verifies(seeded) -> None:
    conninfo, _, _ = seeded
    assert verify_hash_chains(conninfo) > 10
    unlocked = _rows(
        conninfo,
        "SELECT count(*) FROM account_move m JOIN account_journal j "
        "ON j.id = m.journal_id WHERE NOT j.restrict_mode_hash_table "
        "AND m.inalterable_hash IS NOT NULL",
    )
    assert unlocked == [(0,)]


def test_net_wage_is_the_total_of_the_net_line(seeded) -> None:
    conninfo, _, _ = seeded
    wrong = _rows(
        conninfo,
        "SELECT s.id FROM hr_payslip s JOIN hr_payslip_line l "
        "ON l.slip_id = s.id AND l.code = 'NET' WHERE l.total <> s.net_wage",
    )
    assert wrong == []
    missing = _rows(
        conninfo,
        "SELECT count(*) FROM hr_payslip s WHERE NOT EXISTS (SELECT 1 FROM "
        "hr_payslip_line l WHERE l.slip_id = s.id AND l.code = 'NET')",
    )
    assert missing == [(0,)]
    deductions = _rows(
        conninfo,
        "SELECT count(*) FROM hr_payslip s WHERE s.net_wage <> (SELECT sum(total) "
        "FROM hr_payslip_line l WHERE l.slip_id = s.id AND l.code IN "
        "('GROSS', 'PENS', 'HEALTH', 'UNEMP', 'CARE', 'TAX'))",
    )
    assert deductions == [(0,)]


def test_payslip_runs_close_old_months_and_leave_the_newest_open(seeded) -> None:
    conninfo, _, _ = seeded
    rows = _rows(
        conninfo,
        "SELECT state, count(*) FROM hr_payslip_run GROUP BY 1 ORDER BY 1",
    )
    assert rows == [("close", 22), ("draft", 1), ("verify", 1)]


def test_purchase_orders_cover_every_state_with_consistent_approval(seeded) -> None:
    conninfo, _, _ = seeded
    states = {
        row[0] for row in _rows(conninfo, "SELECT DISTINCT state FROM purchase_order")
    }
    assert states == {"draft", "sent", "to approve", "purchase", "done", "cancel"}
    wrong = _rows(
        conninfo,
        "SELECT o.id FROM purchase_order o JOIN res_company c ON c.id = o.company_id "
        "WHERE (o.state = 'to approve' AND (c.po_double_validation <> 'two_step' "
        "   OR o.amount_total < c.po_double_validation_amount)) "
        "OR ((o.state IN ('purchase', 'done')) <> (o.date_approve IS NOT NULL))",
    )
    assert wrong == []


def test_timesheet_costs_are_negative(seeded) -> None:
    conninfo, _, _ = seeded
    rows = _rows(
        conninfo,
        "SELECT count(*), count(*) FILTER (WHERE amount >= 0) "
        "FROM account_analytic_line WHERE project_id IS NOT NULL",
    )
    assert rows[0][0] > 1000 and rows[0][1] == 0


def test_attachments_match_their_files(seeded) -> None:
    conninfo, summary, filestore = seeded
    rows = _rows(conninfo, "SELECT store_fname, checksum, file_size FROM ir_attachment")
    assert len(rows) == summary.filestore_files > 0
    for store_fname, checksum, size in rows:
        content = (filestore / "odoo" / store_fname).read_bytes()
        assert hashlib.sha1(content).hexdigest() == checksum  # noqa: S324
        assert len(content) == size
        assert store_fname == f"{checksum[:2]}/{checksum}"


def test_identity_crons_and_stuck_jobs_are_present(seeded) -> None:
    conninfo, _, _ = seeded
    keys = {row[0] for row in _rows(conninfo, "SELECT key FROM ir_config_parameter")}
    assert {
        "database.uuid",
        "database.secret",
        "database.create_date",
        "web.base.url",
    } <= keys
    assert _rows(conninfo, "SELECT bool_and(active) FROM ir_cron") == [(True,)]
    assert _rows(
        conninfo, "SELECT count(*) FROM queue_job WHERE state = 'started'"
    ) == [(2,)]


def test_sequences_are_past_the_largest_ids(seeded) -> None:
    conninfo, _, _ = seeded
    with psycopg.connect(conninfo) as conn:
        for table in odoo_schema.TABLES:
            row = conn.execute(
                sql.SQL("SELECT coalesce(max(id), 0), nextval({}) FROM {}").format(
                    sql.Literal(f"{table}_id_seq"), sql.Identifier(table)
                )
            ).fetchone()
            assert row is not None and row[1] > row[0], table
        conn.rollback()


def test_same_seed_gives_the_same_content(pg_cluster: Cluster, tmp_path: Path) -> None:
    first, second, other = (pg_cluster.create_database() for _ in range(3))
    seed_database(first, scale=0.05, seed=7, filestore=tmp_path / "a")
    seed_database(second, scale=0.05, seed=7, filestore=tmp_path / "b")
    seed_database(other, scale=0.05, seed=8, filestore=tmp_path / "c")
    assert _content_checksum(first) == _content_checksum(second)
    assert _content_checksum(first) != _content_checksum(other)
    files_a = sorted(p.name for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.name for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b


def test_refuses_a_database_with_data_unless_replace(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    conninfo = pg_cluster.create_database()
    seed_database(conninfo, scale=0.02, filestore=tmp_path)
    with pytest.raises(SeedRefusedError, match="replace=True"):
        seed_database(conninfo, scale=0.02, filestore=tmp_path)
    summary = seed_database(conninfo, scale=0.03, filestore=tmp_path, replace=True)
    assert _rows(conninfo, "SELECT count(*) FROM account_move") == [
        (summary.rows["account_move"],)
    ]
    stored = [p for p in (tmp_path / "odoo").rglob("*") if p.is_file()]
    assert len(stored) == summary.filestore_files


def test_row_counts_grow_with_the_scale(pg_cluster: Cluster, tmp_path: Path) -> None:
    small = seed_database(
        pg_cluster.create_database(), scale=0.05, filestore=tmp_path / "s"
    )
    large = seed_database(
        pg_cluster.create_database(), scale=0.2, filestore=tmp_path / "l"
    )
    for table in ("account_analytic_line", "account_move_line", "account_move"):
        ratio = large.rows[table] / small.rows[table]
        assert 3.5 < ratio < 4.5, (table, ratio)
    assert large.database_bytes > small.database_bytes
