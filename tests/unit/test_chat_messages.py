"""The Slack message about a gate, its button values, and the paging JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from slack_sdk.models.blocks import Block

from activities.chat import (
    APPROVE_ACTION,
    BUTTON_DECISIONS,
    REJECT_ACTION,
    GateAction,
    action_value,
    gate_message,
    paging_payload,
    parse_action_value,
    run_url,
)
from odoo_dr.approvals import (
    GateNotice,
    GateOutcome,
    GatePolicy,
    GateState,
    RecordedVote,
    RefusedVote,
)
from odoo_dr.inventory import Approver

OPENED = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)

PEOPLE = [
    Approver(id="alice", name="Alice", roles=["dba"], slack_user="U0ALICE"),
    Approver(id="bob", name="Bob", roles=["dba"]),
    Approver(id="carol", roles=["incident-commander"], slack_user="U0CAROL"),
]


def vote(person: str, role: str, decision: Literal["approve", "reject"]):
    return RecordedVote(
        person=person,
        role=role,
        decision=decision,
        at=OPENED + timedelta(minutes=5),
        channel="slack",
        comment="checked lag",
        nonce=f"nonce-{person}",
    )


def notice(
    event: Literal["opened", "escalated", "closed"] = "opened",
    *,
    outcome: GateOutcome = "open",
    votes: list[RecordedVote] | None = None,
    evidence: list[str] | None = None,
    audience: list[str] | None = None,
    what: str = "Promote standby pg-b in region b to primary",
    workflow_id: str = "failover-production-20261203",
) -> GateNotice:
    gate = GateState(
        name="promote",
        request_id="promote-1",
        what=what,
        evidence=["old primary fenced", "replay lag 0 bytes"]
        if evidence is None
        else evidence,
        policy=GatePolicy(roles=["dba", "incident-commander"], quorum=2),
        opened_at=OPENED,
        outcome=outcome,
        closed_at=None if outcome == "open" else OPENED + timedelta(minutes=20),
        votes=votes or [],
    )
    return GateNotice(
        environment="production",
        runbook="failover",
        workflow_id=workflow_id,
        run_id="0192-run",
        event=event,
        audience=audience or ["dba", "incident-commander"],
        gate=gate,
    )


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_message_names_runbook_environment_run_and_gate():
    text = all_text(gate_message(notice()).blocks)
    for expected in ("failover", "production", "failover-production-20261203"):
        assert expected in text
    assert "`promote`" in text and "promote-1" in text


def test_message_says_what_the_step_will_do():
    text = all_text(gate_message(notice()).blocks)
    assert "*What it will do*\\nPromote standby pg-b in region b to primary" in text


def test_message_lists_the_evidence_so_far():
    text = all_text(gate_message(notice()).blocks)
    assert "• old primary fenced\\n• replay lag 0 bytes" in text


def test_message_without_evidence_says_none_yet():
    text = all_text(gate_message(notice(evidence=[])).blocks)
    assert "*Evidence so far*\\nnone yet" in text


def test_message_lists_votes_so_far_against_the_quorum():
    text = all_text(
        gate_message(notice(votes=[vote("alice", "dba", "approve")])).blocks
    )
    assert "1 of 2 approvals" in text
    assert "alice (dba) approved via slack" in text
    assert "checked lag" in text


def test_message_lists_refused_votes_with_their_reason():
    message = notice()
    message.gate.refused.append(
        RefusedVote(
            person="mallory",
            decision="approve",
            at=OPENED,
            channel="ui",
            reason="'mallory' is not an approver of this environment",
        )
    )
    text = all_text(gate_message(message).blocks)
    assert "refused: mallory's approve via ui" in text


def test_open_gate_has_approve_and_reject_buttons():
    found = buttons(gate_message(notice()).blocks)
    assert [b["action_id"] for b in found] == [APPROVE_ACTION, REJECT_ACTION]
    assert [b["text"]["text"] for b in found] == ["Approve", "Reject"]
    assert [b["style"] for b in found] == ["primary", "danger"]


def test_button_values_parse_back_to_the_run_and_gate_request():
    for button in buttons(gate_message(notice()).blocks):
        assert parse_action_value(button["value"]) == GateAction(
            workflow_id="failover-production-20261203",
            run_id="0192-run",
            gate="promote",
            request_id="promote-1",
        )


def test_button_value_is_compact_json():
    assert action_value(notice()) == (
        '{"w":"failover-production-20261203","r":"0192-run",'
        '"g":"promote","q":"promote-1"}'
    )


def test_action_ids_map_to_decisions():
    assert BUTTON_DECISIONS == {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}
    assert APPROVE_ACTION == "odoo_dr_approve"
    assert REJECT_ACTION == "odoo_dr_reject"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"w": "wf", "r": "run", "g": "promote"}', "no request_id"),
        ('{"w": "", "r": "run", "g": "promote", "q": "p-1"}', "no workflow_id"),
        ('{"w": "wf", "r": 7, "g": "promote", "q": "p-1"}', "no run_id"),
    ],
)
def test_malformed_button_value_is_refused_with_the_reason(text: str, reason: str):
    with pytest.raises(ValueError, match=reason):
        parse_action_value(text)


def test_escalated_message_says_it_escalated_and_to_whom():
    message = gate_message(notice("escalated", audience=["carol"]), people=PEOPLE)
    text = all_text(message.blocks)
    assert "Escalated: promote in failover on production" in text
    assert ":rotating_light: *Escalated* to <@U0CAROL>" in text
    assert "Silence never approves" in text
    assert message.text.startswith("Escalated to <@U0CAROL>: gate promote")
    assert len(buttons(message.blocks)) == 2


def test_asked_roles_mention_the_people_who_hold_them():
    text = all_text(gate_message(notice(), people=PEOPLE).blocks)
    assert "dba (<@U0ALICE>, Bob), incident-commander (<@U0CAROL>)" in text


@pytest.mark.parametrize(
    ("outcome", "votes", "wording"),
    [
        ("approved", [vote("alice", "dba", "approve")], "*Approved* by alice (dba)"),
        ("rejected", [vote("bob", "dba", "reject")], "*Rejected* by bob"),
        ("timed_out", [], "*Timed out*: no decision by"),
    ],
)
def test_closed_message_gives_the_outcome_without_buttons(
    outcome: GateOutcome, votes: list[RecordedVote], wording: str
):
    message = gate_message(notice("closed", outcome=outcome, votes=votes))
    assert wording in all_text(message.blocks)
    assert buttons(message.blocks) == []
    assert message.text.endswith(f"closed: {outcome.replace('_', ' ')}")


def test_text_from_the_run_cannot_ping_or_link():
    message = gate_message(notice(what="drop <!channel> & go to <http://evil|here>"))
    text = all_text(message.blocks) + message.text
    assert "<!channel>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt; &amp; go" in text


def test_blocks_pass_slack_sdk_block_kit_validation():
    long = notice(
        "escalated",
        votes=[vote("alice", "dba", "approve")],
        evidence=[f"check {i}: " + "x" * 200 for i in range(40)],
        what="y" * 5000,
    )
    for event in ("opened", "escalated", "closed"):
        message = gate_message(long.model_copy(update={"event": event}), people=PEOPLE)
        for block in message.blocks:
            Block.parse(block).validate_json()


def test_identifiers_too_long_for_a_button_leave_the_buttons_out():
    message = gate_message(notice(workflow_id="w" * 2100))
    assert buttons(message.blocks) == []
    assert "too long for chat buttons" in all_text(message.blocks)


def test_message_links_to_the_run_in_the_temporal_ui():
    link = run_url("http://127.0.0.1:8233/", "default", "fail over/1", "run-1")
    assert link == (
        "http://127.0.0.1:8233/namespaces/default/workflows/fail%20over%2F1/"
        "run-1/history"
    )
    assert f"<{link}|" in all_text(gate_message(notice(), link=link).blocks)
    assert run_url(None, "default", "w", "r") is None


def test_paging_payload_carries_the_documented_keys():
    payload = paging_payload(notice(), link="http://ui/run")
    assert payload == {
        "event": "opened",
        "environment": "production",
        "runbook": "failover",
        "workflow_id": "failover-production-20261203",
        "run_id": "0192-run",
        "gate": "promote",
        "request_id": "promote-1",
        "what": "Promote standby pg-b in region b to primary",
        "audience": ["dba", "incident-commander"],
        "outcome": "open",
        "link": "http://ui/run",
    }
