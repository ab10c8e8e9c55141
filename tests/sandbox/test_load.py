import threading
import time
from pathlib import Path

import psycopg
import pytest

from sandbox.load import (
    LoadSummary,
    _outcome_unknown,
    count_lost,
    in_doubt_ledger,
    read_ledger,
    run_load,
)
from sandbox.seed import seed_database
from tests.clusters import Cluster
from tests.sandbox.test_seed import verify_hash_chains


@pytest.fixture
def odoo_database(pg_cluster: Cluster, tmp_path: Path) -> str:
    conninfo = pg_cluster.create_database()
    seed_database(conninfo, scale=0.03, filestore=tmp_path / "filestore")
    return conninfo


def _scalar(conninfo: str, query: str) -> object:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_every_ledger_entry_is_in_the_database(
    odoo_database: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    summary = run_load(odoo_database, rate=60, duration=2.0, ledger=ledger, seed=1)
    entries = read_ledger(ledger)
    assert summary.commits == len(entries) > 40
    assert summary.failures == summary.in_doubt == 0
    assert {e.kind for e in entries} == {
        "timesheet",
        "vendor_bill",
        "purchase_approval",
    }
    report = count_lost(ledger, odoo_database)
    assert report.checked == report.present == len(entries)
    assert report.lost == []


def test_load_keeps_bills_numbered_without_gaps_and_chained(
    odoo_database: str, tmp_path: Path
) -> None:
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=run_load,
            kwargs={
                "rate": 40,
                "duration": None,
                "ledger": tmp_path / f"l{n}.jsonl",
                "seed": n,
                "stop": stop,
            },
            args=(odoo_database,),
        )
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    stop.set()
    for worker in workers:
        worker.join(10)
    gaps = _scalar(
        odoo_database,
        "SELECT count(*) FROM (SELECT journal_id, sequence_prefix FROM account_move "
        "WHERE state = 'posted' GROUP BY 1, 2 HAVING max(sequence_number) <> count(*) "
        "OR count(DISTINCT sequence_number) <> count(*)) AS gaps",
    )
    assert gaps == 0
    assert verify_hash_chains(odoo_database) > 0
    unbalanced = _scalar(
        odoo_database,
        "SELECT count(*) FROM (SELECT move_id FROM account_move_line GROUP BY 1 "
        "HAVING sum(debit) <> sum(credit)) AS unbalanced",
    )
    assert unbalanced == 0


def test_count_lost_names_deleted_rows(odoo_database: str, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    run_load(odoo_database, rate=50, duration=1.5, ledger=ledger, seed=2)
    entries = read_ledger(ledger)
    timesheet = next(e for e in entries if e.kind == "timesheet")
    bill = next(e for e in entries if e.kind == "vendor_bill")
    with psycopg.connect(odoo_database) as conn:
        conn.execute("DELETE FROM account_analytic_line WHERE id = %s", (timesheet.id,))
        conn.execute("DELETE FROM account_move WHERE id = %s", (bill.id,))
    report = count_lost(ledger, odoo_database)
    assert {e.seq for e in report.lost} == {timesheet.seq, bill.seq}
    assert report.present == len(entries) - 2
    earliest = min(timesheet.commit_time, bill.commit_time)
    before = count_lost(ledger, odoo_database, before=earliest)
    assert before.lost_count == 1
    assert before.checked == sum(e.commit_time <= earliest for e in entries)


def test_refuses_a_run_that_would_never_end(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never ends"):
        run_load("dbname=x", rate=1, duration=None, ledger=tmp_path / "l")


def test_load_survives_a_server_crash_and_records_only_commits(
    pg_cluster: Cluster, odoo_database: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    stop = threading.Event()
    result: list[LoadSummary] = []
    worker = threading.Thread(
        target=lambda: result.append(
            run_load(odoo_database, rate=50, duration=None, ledger=ledger, stop=stop)
        )
    )
    worker.start()
    time.sleep(1.5)
    pg_cluster.stop("immediate")
    time.sleep(1.0)
    pg_cluster.start()
    restarted = _scalar(odoo_database, "SELECT clock_timestamp()")
    time.sleep(2.0)
    stop.set()
    worker.join(15)
    summary = result[0]
    entries = read_ledger(ledger)
    assert summary.commits == len(entries)
    assert summary.reconnects >= 1
    assert summary.failures + summary.in_doubt >= 1
    assert any(e.commit_time > restarted for e in entries)
    report = count_lost(ledger, odoo_database)
    assert report.lost == []
    assert report.in_doubt_checked == summary.in_doubt


class _Connection:
    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.closed = broken


@pytest.mark.parametrize(
    ("broken", "sqlstate", "unknown"),
    [
        (True, None, True),  # connection lost while COMMIT was in flight
        (False, "57P01", True),  # server shutting down: COMMIT may be written
        (False, "40001", False),  # serialization failure: surely rolled back
    ],
)
def test_a_commit_whose_answer_was_lost_is_in_doubt(
    broken: bool, sqlstate: str | None, unknown: bool
) -> None:
    error = psycopg.OperationalError("commit failed")
    error.sqlstate = sqlstate  # type: ignore[misc]
    assert _outcome_unknown(_Connection(broken), error) is unknown  # type: ignore[arg-type]


def test_in_doubt_transactions_are_never_counted_as_lost(
    odoo_database: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    run_load(odoo_database, rate=30, duration=0.5, ledger=ledger, seed=3)
    entries = read_ledger(ledger)
    moved = entries.pop()
    ledger.write_text("".join(e.model_dump_json() + "\n" for e in entries))
    in_doubt_ledger(ledger).write_text(moved.model_dump_json() + "\n")
    report = count_lost(ledger, odoo_database)
    assert report.lost == []
    assert report.in_doubt_checked == report.in_doubt_present == 1
