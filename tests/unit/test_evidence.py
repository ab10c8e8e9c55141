import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from activities.evidence import immutability
from odoo_dr.approvals import GatePolicy, GateState, RecordedVote, RefusedVote
from odoo_dr.cutover import DataLoss, RegionMoveReport
from odoo_dr.evidence import (
    SCHEMA_VERSION,
    EvidenceReport,
    Objective,
    TrendPoint,
    canonical_json,
    evidence_from_drill,
    evidence_from_region_move,
    report_key,
    sha256_hex,
)
from odoo_dr.evidence_render import brief, render_html, render_markdown
from odoo_dr.inventory import ObjectStore, RecoveryTier
from odoo_dr.models import (
    BackupChoice,
    DrillReport,
    PrimaryPosition,
    RecoveredPoint,
    StepRecord,
)
from odoo_dr.validation import CheckResult, ValidationReport

START = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
UI = "http://127.0.0.1:8233/namespaces/default/workflows/drill-1/run-1/history"
TIERS = [
    RecoveryTier(
        name="payroll-payables",
        rto=timedelta(hours=1),
        rpo=timedelta(minutes=5),
        areas=["payroll", "payables"],
    ),
    RecoveryTier(name="reporting", rto=timedelta(hours=24), rpo=timedelta(hours=24)),
]


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _validation(verdict: Any = "pass", finished: float = 1500) -> ValidationReport:
    return ValidationReport(
        environment="prod",
        target="drill copy 127.0.0.1:55400",
        verdict=verdict,
        started_at=_at(1200),
        finished_at=_at(finished),
        results=[
            CheckResult(
                name="payroll.newest_runs_complete",
                area="payroll",
                verdict="pass",
                summary="the newest 3 batches hold 120 payslips",
                found={"payslips": 120, "employees_missing": 0},
                expected={"employees_missing": 0},
                examples=["SLIP/2026/11 net 48,211.07 EUR"],
            ),
            CheckResult(
                name="payables.open_bills",
                area="payables",
                verdict="warn",
                critical=False,
                summary="2 bills | posted without lines",
                hint="look at them",
            ),
        ],
    )


def _gate() -> GateState:
    return GateState(
        name="sign_off_payroll",
        request_id="r1",
        what="Accept the restored payroll",
        policy=GatePolicy(roles=["payroll-lead"]),
        opened_at=_at(1500),
        outcome="approved",
        closed_at=_at(1600),
        votes=[
            RecordedVote(
                person="maria",
                role="payroll-lead",
                decision="approve",
                at=_at(1590),
                channel="cli",
                comment="nets match the November report",
                nonce="n-12345678",
                verified_signer="maria",
            )
        ],
        refused=[
            RefusedVote(
                person="ops",
                decision="approve",
                at=_at(1550),
                channel="slack",
                reason="two-person rule",
            )
        ],
    )


def _drill(**changes: Any) -> DrillReport:
    fields: dict[str, Any] = dict(
        environment="prod",
        workflow_id="restore-drill-prod-20261203",
        run_id="run-1",
        requested_by="schedule",
        reason="nightly restore drill",
        verdict="pass",
        started_at=START,
        validated_at=_at(1500),
        finished_at=_at(1700),
        backup=BackupChoice(
            backup_id="20261203T210000",
            begin_time=_at(-3600),
            end_time=_at(-3500),
            begin_wal="000000010000000000000010",
            end_wal="000000010000000000000011",
            size_bytes=52_000_000,
        ),
        primary=PrimaryPosition(
            node="pg-a", wal_lsn="0/5A000060", newest_commit=_at(0), observed_at=_at(1)
        ),
        recovered=RecoveredPoint(
            replay_lsn="0/59FFFF00",
            newest_commit=_at(-40),
            timeline=2,
            recovery_seconds=16.5,
        ),
        rto_seconds=1500.0,
        rpo_seconds=40.0,
        rpo_transactions=3,
        validation=_validation(),
        approvals=[_gate()],
        steps=[
            StepRecord(
                name="restore backup 20261203T210000",
                started_at=_at(10),
                ended_at=_at(400),
                outcome="done",
            ),
            StepRecord(name="validate the copy", started_at=_at(1200), outcome="done"),
        ],
        torn_down=True,
    )
    fields.update(changes)
    return DrillReport(**fields)


def _move(**changes: Any) -> RegionMoveReport:
    fields: dict[str, Any] = dict(
        environment="prod",
        runbook="failover",
        workflow_id="failover-prod-1",
        run_id="run-9",
        requested_by="ops",
        reason="region a is down",
        verdict="pass",
        started_at=START,
        ended_at=_at(900),
    )
    fields.update(changes)
    return RegionMoveReport(**fields)


def _rows(report: EvidenceReport, tier: str) -> dict[str, Objective]:
    return {row.measure: row for row in report.objectives if row.tier == tier}


# --- objectives ----------------------------------------------------------------


def test_drill_within_every_objective_is_met():
    report = evidence_from_drill(_drill(), TIERS, UI)
    rows = _rows(report, "payroll-payables")
    assert rows["RTO"].verdict == "met" and rows["RTO"].measured_seconds == 1500
    assert rows["RPO"].verdict == "met" and rows["RPO"].objective_seconds == 300


def test_drill_slower_than_a_tier_misses_that_tier_only():
    report = evidence_from_drill(_drill(rto_seconds=7200.0), TIERS, UI)
    assert _rows(report, "payroll-payables")["RTO"].verdict == "missed"
    assert _rows(report, "reporting")["RTO"].verdict == "met"


def test_failed_drill_has_unknown_objectives():
    drill = _drill(verdict="fail", failure="restore failed", rto_seconds=None)
    report = evidence_from_drill(
        drill.model_copy(update={"rpo_seconds": None}), TIERS, UI
    )
    assert {row.verdict for row in report.objectives} == {"unknown"}
    assert "not measured" in report.measurements[0].basis


def test_measured_equal_to_the_objective_is_met():
    report = evidence_from_drill(_drill(rpo_seconds=300.0), TIERS, UI)
    assert _rows(report, "payroll-payables")["RPO"].verdict == "met"


def test_every_tier_gets_an_rto_and_an_rpo_row():
    report = evidence_from_drill(_drill(), TIERS, UI)
    assert [(r.tier, r.measure) for r in report.objectives] == [
        ("payroll-payables", "RTO"),
        ("payroll-payables", "RPO"),
        ("reporting", "RTO"),
        ("reporting", "RPO"),
    ]


def test_region_move_rto_is_the_write_outage():
    report = evidence_from_region_move(_move(unavailable_seconds=12.5), TIERS, None)
    assert report.measurements[0].seconds == 12.5
    assert "write outage" in report.measurements[0].basis


def test_region_move_without_outage_measures_start_to_validated():
    move = _move(validation=_validation(finished=4000.0))
    report = evidence_from_region_move(move, TIERS, None)
    rows = _rows(report, "payroll-payables")
    assert rows["RTO"].measured_seconds == 4000.0 and rows["RTO"].verdict == "missed"


def test_region_move_rpo_is_the_span_of_lost_commits():
    loss = DataLoss(
        node="pg-a",
        measured=True,
        fork_lsn="0/5000000",
        lost_bytes=8192,
        lost_transactions=4,
        first_lost_commit=_at(100),
        last_lost_commit=_at(106),
    )
    move = _move(loss=loss, lost_bytes=8192, lost_bytes_known=True)
    rows = _rows(evidence_from_region_move(move, TIERS, None), "payroll-payables")
    assert rows["RPO"].measured_seconds == 6.0 and rows["RPO"].verdict == "met"


def test_switchover_that_lost_no_wal_has_zero_rpo():
    move = _move(runbook="switchover", lost_bytes=0, lost_bytes_known=True)
    rows = _rows(evidence_from_region_move(move, TIERS, None), "reporting")
    assert rows["RPO"].measured_seconds == 0.0 and rows["RPO"].verdict == "met"


def test_lost_bytes_without_commit_times_leave_rpo_unknown():
    move = _move(lost_bytes=4096, lost_bytes_known=True)
    report = evidence_from_region_move(move, TIERS, None)
    assert _rows(report, "reporting")["RPO"].verdict == "unknown"
    assert "4,096 bytes of WAL were lost" in report.measurements[1].basis


def test_dry_run_measures_nothing():
    report = evidence_from_region_move(_move(verdict="dry_run"), TIERS, None)
    assert report.verdict == "dry_run"
    assert {row.verdict for row in report.objectives} == {"unknown"}


# --- what the report carries ---------------------------------------------------


def test_drill_facts_name_the_backup_and_the_recovered_position():
    facts = {f.label: f.value for f in evidence_from_drill(_drill(), TIERS, UI).facts}
    assert facts["base backup"] == "20261203T210000"
    assert facts["recovered to WAL position"] == "0/59FFFF00 (timeline 2)"
    assert facts["drill copy torn down"] == "yes"


def test_drill_proof_against_production_is_a_fact_after_the_rto():
    report = _drill(proven_at=_at(1560))
    facts = {f.label: f.value for f in evidence_from_drill(report, TIERS, UI).facts}
    assert facts["proven against production's fingerprint"].endswith(
        "60.0 s after the RTO"
    )
    [rto] = [
        m
        for m in evidence_from_drill(report, TIERS, UI).measurements
        if m.measure == "RTO"
    ]
    assert rto.seconds == 1500.0 and "not counted" in rto.basis


def test_drill_report_of_an_earlier_release_reads_one_row_per_measure():
    earlier = _drill().model_dump(mode="json")
    earlier["objectives"] = [
        {
            "tier": "payroll",
            "areas": ["payroll"],
            "rto_objective_seconds": 3600.0,
            "rpo_objective_seconds": 300.0,
            "rto_seconds": 4000.0,
            "rpo_seconds": None,
            "rto_met": False,
            "rpo_met": None,
        }
    ]
    read = DrillReport.model_validate(earlier)
    assert [(o.measure, o.verdict) for o in read.objectives] == [
        ("RTO", "missed"),
        ("RPO", "unknown"),
    ]
    assert read.missed == ["RTO 4000 s exceeds the 3600 s of tier payroll"]
    assert DrillReport.model_validate(read.model_dump(mode="json")) == read


def test_unconfirmed_fence_is_said_plainly():
    from odoo_dr.cutover import Fencing

    fencing = Fencing(node="pg-a", method="unreachable", confirmed=False)
    facts = evidence_from_region_move(_move(fencing=fencing), TIERS, None).facts
    assert any("NOT confirmed" in f.value for f in facts)


def test_approvals_keep_signer_and_refused_votes():
    gate = evidence_from_drill(_drill(), TIERS, UI).approvals[0]
    assert gate.votes[0].verified_signer == "maria"
    assert "two-person rule" in gate.refused[0]


def test_check_examples_stay_out_of_the_report():
    data = canonical_json(evidence_from_drill(_drill(), TIERS, UI))
    assert b"48,211.07" not in data
    assert b"employees_missing" in data


def test_new_report_says_it_is_not_stored_yet():
    report = evidence_from_drill(_drill(), TIERS, UI)
    assert report.schema_version == SCHEMA_VERSION == "odoo-dr.evidence/1"
    assert report.immutability.startswith("not stored yet")


# --- canonical JSON and key ----------------------------------------------------


def test_canonical_json_is_the_same_for_the_same_report():
    first = canonical_json(evidence_from_drill(_drill(), TIERS, UI))
    second = canonical_json(evidence_from_drill(_drill(), TIERS, UI))
    assert first == second and sha256_hex(first) == sha256_hex(second)


def test_canonical_json_survives_a_round_trip_byte_for_byte():
    data = canonical_json(evidence_from_drill(_drill(), TIERS, UI))
    again = canonical_json(EvidenceReport.model_validate_json(data))
    assert again == data


def test_canonical_json_has_sorted_keys_and_no_spacing():
    data = canonical_json(evidence_from_drill(_drill(), TIERS, UI))
    parsed = json.loads(data)
    expected = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    assert data == expected.encode("utf-8")
    assert list(parsed) == sorted(parsed)


def test_report_key_has_environment_runbook_month_and_run():
    key = report_key("prod", "restore-drill", "drill-1", "run-1", START)
    assert key == "evidence/prod/restore-drill/2026/12/drill-1/run-1"


def test_report_key_takes_the_month_in_utc():
    local = datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert "/2026/12/" in report_key("prod", "failover", "f", "r", local)


def test_report_key_cannot_be_split_by_a_slash_in_an_id():
    key = report_key("prod", "failover", "a/../b", "r 1", START)
    assert key == "evidence/prod/failover/2026/12/a_.._b/r_1"


def test_report_key_refuses_an_empty_segment():
    with pytest.raises(ValueError, match="cannot be a segment"):
        report_key("prod", "failover", "..", "r", START)


# --- pages ---------------------------------------------------------------------


HOSTILE_STEP = 'sign-off of <b onmouseover="x()">pay</b> & </title><script>'


def _hostile() -> EvidenceReport:
    gate = StepRecord(
        name=HOSTILE_STEP, started_at=_at(1500), ended_at=_at(1600), outcome="done"
    )
    drill = _drill(
        reason='<script>alert("x")</script> & "quotes"',
        steps=[*_drill().steps, gate],
    )
    return evidence_from_drill(drill, TIERS, UI, trend=_past(3))


def _past(count: int) -> list[TrendPoint]:
    """``count`` nightly drills before this one, a day apart."""
    return [
        TrendPoint(
            run_id=f"past-{day}",
            started_at=START - timedelta(days=day),
            verdict="pass",
            rto_seconds=1400.0 + day,
            rpo_seconds=30.0 + day,
        )
        for day in range(count, 0, -1)
    ]


def _svg(page: str, kind: str) -> ET.Element:
    """The page's ``<svg class="kind">``, parsed: also proves it is well formed."""
    found = re.search(rf'<svg class="{kind}".*?</svg>', page, re.S)
    assert found, f"no svg.{kind} in the page"
    return ET.fromstring(found.group(0))


def _classes(element: ET.Element) -> list[str]:
    return element.get("class", "").split()


def _groups(svg: ET.Element, css: str) -> list[ET.Element]:
    return [g for g in svg.iter("g") if css in _classes(g)]


def _objective_rows(page: str) -> dict[str, str]:
    """Each objective row's sentence, with the row's class."""
    rows = re.findall(
        r'<tr class="(objective [a-z]+)">.*?<td class="reading">(.*?)</td>', page
    )
    return {reading: css for css, reading in rows}


def test_html_escapes_a_script_in_the_reason():
    page = render_html(_hostile())
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script" not in page.lower()


def test_html_names_no_address_but_the_ui_link():
    page = render_html(_hostile())
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {UI}
    assert f'<a href="{UI}">' in page


def test_html_does_not_link_an_address_that_is_not_http():
    report = _hostile().model_copy(update={"ui_url": "javascript:alert(1)"})
    assert "<a " not in render_html(report)


def test_html_has_a_print_stylesheet_and_colours_the_verdict():
    page = render_html(_hostile())
    assert "@media print" in page
    assert 'class="verdict good">PASS<' in page
    assert '<span class="caution">warn</span>' in page


def test_html_shows_who_signed_a_vote():
    page = render_html(_hostile())
    assert "<td>maria</td><td>payroll-lead</td>" in page
    assert '<span class="good">approved</span>' in page


def test_markdown_has_the_step_table():
    text = render_markdown(_hostile())
    assert "| step | started | ended | took | outcome | detail |" in text
    assert (
        "| restore backup 20261203T210000 | 2026-12-03 22:00:10 UTC | "
        "2026-12-03 22:06:40 UTC | 6 min 30 s | done |  |"
    ) in text
    assert "| validate the copy | 2026-12-03 22:20:00 UTC | - | did not end |" in text


def test_markdown_escapes_html_and_table_pipes():
    text = render_markdown(_hostile())
    assert "<script" not in text
    assert "2 bills \\| posted without lines" in text


def test_markdown_lists_objectives_with_verdicts():
    text = render_markdown(_hostile())
    assert "| payroll-payables | payroll, payables | RTO | 1 h 00 min | " in text
    assert "25 min 00 s | met |" in text


# --- the page's charts ---------------------------------------------------------


def test_timeline_has_one_step_group_per_step():
    report = _hostile()
    steps = _groups(_svg(render_html(report), "timeline"), "step")
    assert len(steps) == len(report.steps) == 3
    assert '<section id="timeline">' in render_html(report)


def test_timeline_draws_gates_as_waits_for_people():
    steps = [
        StepRecord(name=name, started_at=_at(i * 10), ended_at=_at(i * 10 + 5))
        for i, name in enumerate(
            ["approval: promote", "promote the standby", "sign-off of payroll"]
        )
    ]
    page = render_html(evidence_from_drill(_drill(steps=steps), TIERS, UI))
    classes = [g.get("class") for g in _groups(_svg(page, "timeline"), "step")]
    assert classes == ["step wait", "step", "step wait"]


def test_timeline_titles_name_each_step_and_its_duration():
    svg = _svg(render_html(_hostile()), "timeline")
    titles = [g.findtext("title") for g in _groups(svg, "step")]
    assert titles[0] == "restore backup 20261203T210000: 6 min 30 s (from +10 s), done"
    assert titles[1].startswith("validate the copy: did not end")
    assert titles[2].endswith(": waited 1 min 40 s for people (from +25 min), done")


def test_timeline_marks_each_step_with_its_outcome():
    steps = [
        StepRecord(name=f"step {outcome}", started_at=_at(0), outcome=outcome)
        for outcome in ("done", "failed", "skipped", "running")
    ]
    page = render_html(evidence_from_drill(_drill(steps=steps), TIERS, UI))
    svg = _svg(page, "timeline")
    outcomes = [g.get("data-outcome") for g in _groups(svg, "step")]
    assert outcomes == ["done", "failed", "skipped", "running"]


def test_hostile_step_name_is_escaped_inside_the_svg():
    page = render_html(_hostile())
    titles = [
        g.findtext("title") or "" for g in _groups(_svg(page, "timeline"), "step")
    ]
    assert titles[2].startswith(HOSTILE_STEP + ":")
    assert "<b " not in page and "</title><script>" not in page


def test_objective_rows_say_met_missed_and_unknown():
    drill = _drill(rto_seconds=7200.0, rpo_seconds=None)
    rows = _objective_rows(render_html(evidence_from_drill(drill, TIERS, UI)))
    assert rows == {
        "RTO 2 h of 1 h: missed": "objective missed",
        "RPO not measured, objective 5 min: unknown": "objective unknown",
        "RTO 2 h of 24 h: met": "objective met",
        "RPO not measured, objective 24 h: unknown": "objective unknown",
    }


def test_objective_row_of_a_met_objective_reads_as_a_sentence():
    page = render_html(_hostile())
    assert '<section id="objectives">' in page
    assert _objective_rows(page)["RTO 25 min of 1 h: met"] == "objective met"


def test_validation_rows_carry_their_verdict_classes():
    validation = _validation()
    failing = validation.results[0].model_copy(
        update={"name": "payables.totals", "verdict": "fail"}
    )
    skipped = validation.results[0].model_copy(
        update={"name": "payroll.lines", "verdict": "skipped"}
    )
    validation.results += [failing, skipped]
    page = render_html(evidence_from_drill(_drill(validation=validation), TIERS, UI))
    table = re.search(r'<table class="validation">.*?</table>', page).group(0)
    assert re.findall(r'<tr class="(verdict-[a-z]+)">', table) == [
        "verdict-pass",
        "verdict-warn",
        "verdict-fail",
        "verdict-skipped",
    ]
    assert '<section id="validation">' in page


def test_approvals_have_their_section():
    page = render_html(_hostile())
    assert '<section id="approvals">' in page


def test_trend_has_one_point_a_measure_per_drill_this_one_included():
    report = evidence_from_drill(_drill(), TIERS, UI, trend=_past(4))
    svg = _svg(render_html(report), "trend")
    for measure in ("RTO", "RPO"):
        series = [g for g in svg.iter("g") if g.get("data-measure") == measure]
        assert len(_groups(series[0], "point")) == 5


def test_trend_names_this_drill_last():
    svg = _svg(render_html(_hostile()), "trend")
    titles = [g.findtext("title") or "" for g in _groups(svg, "point")]
    assert (
        titles[3]
        == "this drill of 2026-12-03 22:00:00 UTC (run run-1): RTO 25 min, pass"
    )
    assert titles[0].startswith("drill of 2026-11-30 22:00:00 UTC (run past-3): RTO")


def test_trend_marks_a_drill_that_measured_nothing():
    failed = _past(1)[0].model_copy(update={"verdict": "fail", "rto_seconds": None})
    report = evidence_from_drill(_drill(), TIERS, UI, trend=[failed])
    svg = _svg(render_html(report), "trend")
    rto = next(g for g in svg.iter("g") if g.get("data-measure") == "RTO")
    assert [_classes(g) for g in _groups(rto, "point")] == [
        ["point", "unknown"],
        ["point"],
    ]


def test_trend_draws_the_tier_objective_it_has_room_for():
    page = render_html(_hostile())
    lines = [
        g.findtext("title") for g in _groups(_svg(page, "trend"), "objective-line")
    ]
    assert lines == [
        "tier payroll-payables: RTO objective 1 h",
        "tier payroll-payables: RPO objective 5 min",
    ]
    assert (
        "Above the chart&#x27;s scale: tier reporting&#x27;s RTO objective of 24 h"
        in page
    )


def test_first_drill_says_there_is_no_trend_yet():
    page = render_html(evidence_from_drill(_drill(), TIERS, UI))
    assert '<section id="trend">' in page and '<svg class="trend"' not in page
    assert "No trend yet" in page


def test_region_move_page_has_no_trend():
    page = render_html(evidence_from_region_move(_move(), TIERS, None))
    assert 'id="trend"' not in page and '<svg class="timeline"' not in page


def test_page_with_charts_still_runs_and_loads_nothing():
    page = render_html(_hostile())
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page
    assert re.findall(r"\b(?:src|href|xlink:href)=", page) == ["href="]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (4.25, "4.2 s"), (42, "42 s"), (90, "1 min 30 s"),
     (1500, "25 min"), (3600, "1 h"), (5400, "1 h 30 min"), (86400, "24 h")],
)  # fmt: skip
def test_brief_spans_read_as_people_say_them(seconds: float, text: str):
    assert brief(seconds) == text


# --- the trend in the report ----------------------------------------------------


def test_drill_trend_adds_this_drill_after_the_past_ones():
    report = evidence_from_drill(_drill(), TIERS, UI, trend=_past(2)[::-1])
    assert [p.run_id for p in report.trend] == ["past-2", "past-1", "run-1"]
    assert report.trend[-1].rto_seconds == 1500 and report.trend[-1].rpo_seconds == 40


def test_drill_trend_counts_this_drill_once():
    again = _past(1)[0].model_copy(update={"run_id": "run-1"})
    report = evidence_from_drill(_drill(), TIERS, UI, trend=[again])
    assert [p.run_id for p in report.trend] == ["run-1"]
    assert report.trend[0].started_at == START


def test_trend_order_does_not_change_the_canonical_json():
    first = evidence_from_drill(_drill(), TIERS, UI, trend=_past(3))
    second = evidence_from_drill(_drill(), TIERS, UI, trend=_past(3)[::-1])
    assert canonical_json(first) == canonical_json(second)
    assert canonical_json(
        EvidenceReport.model_validate_json(canonical_json(first))
    ) == canonical_json(first)


def test_report_stored_before_the_trend_still_reads():
    data = json.loads(canonical_json(evidence_from_drill(_drill(), TIERS, UI)))
    del data["trend"]
    old = EvidenceReport.model_validate(data)
    assert old.trend == [] and old.schema_version == "odoo-dr.evidence/1"


def test_region_move_has_no_trend():
    assert evidence_from_region_move(_move(), TIERS, None).trend == []


# --- the protection sentence -----------------------------------------------------


def _store(**changes: Any) -> ObjectStore:
    return ObjectStore(bucket="acme-evidence", server_name="prod", **changes)


def test_locked_on_aws_names_mode_and_date_without_caveat():
    until = datetime(2028, 1, 1, tzinfo=UTC)
    sentence = immutability(_store(object_lock=True), True, until, "AmazonS3")
    assert "COMPLIANCE mode until 2028-01-01 00:00:00 UTC" in sentence
    assert "not AWS S3" not in sentence and "moto" not in sentence


def test_locked_on_another_server_says_enforcement_depends_on_it():
    store = _store(object_lock=True, endpoint_url="https://minio.internal:9000")
    sentence = immutability(store, True, datetime(2028, 1, 1, tzinfo=UTC), "MinIO")
    assert "minio.internal:9000 is not AWS S3" in sentence
    assert "https://" not in sentence


def test_bucket_without_lock_says_so():
    sentence = immutability(_store(), False, None)
    assert sentence.startswith("Bucket acme-evidence has no Object Lock")


def test_inventory_asking_for_a_lock_the_bucket_lacks_says_so():
    sentence = immutability(_store(object_lock=True), False, None)
    assert "asks for Object Lock" in sentence and "has none" in sentence
