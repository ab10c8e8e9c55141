"""Gate notices reach a local receiver of Slack's and a pager's wire format.

``ChatActivities.notify_gate`` runs in Temporal's ActivityEnvironment with an
inventory whose chat settings point at :class:`SlackHttpDouble`; the
secrets (webhook URLs, bot token) come from environment variables.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.chat import (
    APPROVE_ACTION,
    BUTTON_DECISIONS,
    NOT_DELIVERED,
    REJECT_ACTION,
    ChatActivities,
    GateAction,
    parse_action_value,
)
from odoo_dr.approvals import GateNotice, GatePolicy, GateState
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.inventory import Inventory
from tests.doubles.slack_http import SlackHttpDouble

WEBHOOK = {"env": "TEST_SLACK_WEBHOOK_URL"}
TOKEN = {"env": "TEST_SLACK_BOT_TOKEN"}
PAGER = {"env": "TEST_PAGING_WEBHOOK_URL"}


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackHttpDouble]:
    with SlackHttpDouble() as running:
        monkeypatch.setenv("TEST_SLACK_WEBHOOK_URL", running.webhook_url)
        monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", running.token)
        monkeypatch.setenv("TEST_PAGING_WEBHOOK_URL", running.paging_url)
        yield running


def inventory(chat: dict[str, Any] | None) -> Inventory:
    node = {"host": "127.0.0.1"}
    environment = {
        "primary_region": "a",
        "standby_region": "b",
        "regions": {
            "a": {"postgres": [{**node, "name": "pg-a", "role": "primary"}]},
            "b": {"postgres": [{**node, "name": "pg-b", "role": "standby"}]},
        },
        "object_store": {"bucket": "odoo-dr", "server_name": "production"},
        "odoo": {"database": "odoo"},
        "drill": {"work_dir": "/tmp/odoo-dr-drills"},
        "approvals": {
            "people": [
                {"id": "alice", "roles": ["dba"], "slack_user": "U0ALICE"},
                {"id": "carol", "roles": ["incident-commander"]},
            ],
            "default": {"roles": ["dba", "incident-commander"]},
        },
        "chat": chat,
    }
    return Inventory.model_validate({"environments": {"production": environment}})


def notice(event: str = "opened") -> GateNotice:
    return GateNotice(
        environment="production",
        runbook="failover",
        workflow_id="failover-production-20261203",
        run_id="0192f0e1-run",
        event=event,  # type: ignore[arg-type]
        audience=["dba"],
        gate=GateState(
            name="promote",
            request_id="promote-1",
            what="Promote standby pg-b to primary",
            evidence=["old primary fenced", "replay lag 0 bytes"],
            policy=GatePolicy(roles=["dba", "incident-commander"]),
            opened_at=datetime(2026, 12, 3, 3, 0, tzinfo=UTC),
        ),
    )


async def notify(
    chat: dict[str, Any] | None,
    *,
    env: ActivityEnvironment | None = None,
    temporal_ui: str | None = None,
) -> None:
    activities = ChatActivities(inventory(chat), temporal_ui=temporal_ui)
    await (env or ActivityEnvironment()).run(activities.notify_gate, notice())


async def refusal(chat: dict[str, Any]) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await notify(chat)
    return caught.value


def clicked(button: dict[str, Any]) -> dict[str, Any]:
    """The ``block_actions`` payload Slack sends the bridge for a click."""
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE"},
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "value": button["value"],
            }
        ],
    }


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


async def test_webhook_receives_the_message_with_working_action_payloads(
    double: SlackHttpDouble,
):
    await notify({"channel": "#dr-production", "webhook_url": WEBHOOK})

    [message] = double.webhook_messages
    assert "promote" in message["text"]
    decisions = []
    for button in buttons(message):
        action = clicked(button)["actions"][0]
        assert parse_action_value(action["value"]) == GateAction(
            workflow_id="failover-production-20261203",
            run_id="0192f0e1-run",
            gate="promote",
            request_id="promote-1",
        )
        decisions.append(BUTTON_DECISIONS[action["action_id"]])
    assert decisions == ["approve", "reject"]


async def test_web_api_post_carries_the_bearer_token_and_channel(
    double: SlackHttpDouble,
):
    chat = {"channel": "#dr-production", "bot_token": TOKEN, "api_url": double.api_url}
    await notify(chat)

    [call] = double.api_messages
    assert call.path == "/api/chat.postMessage"
    assert call.headers["authorization"] == f"Bearer {double.token}"
    body = call.json()
    assert body["channel"] == "#dr-production"
    assert [b["action_id"] for b in buttons(body)] == [APPROVE_ACTION, REJECT_ACTION]
    assert call.extra["channel"] == double.channel_ids["#dr-production"]


async def test_bot_token_is_preferred_to_the_webhook(double: SlackHttpDouble):
    chat = {
        "channel": "#dr-production",
        "bot_token": TOKEN,
        "api_url": double.api_url,
        "webhook_url": WEBHOOK,
    }
    await notify(chat)

    assert len(double.api_messages) == 1
    assert double.of_kind("webhook") == []


async def test_paging_webhook_receives_the_notice_as_json(double: SlackHttpDouble):
    chat = {"channel": "#dr-production", "paging_webhook_url": PAGER}
    await notify(chat, temporal_ui="http://127.0.0.1:8233")

    [page] = double.pages
    assert page["event"] == "opened"
    assert (page["workflow_id"], page["run_id"]) == (
        "failover-production-20261203",
        "0192f0e1-run",
    )
    assert (page["gate"], page["request_id"], page["outcome"]) == (
        "promote",
        "promote-1",
        "open",
    )
    assert page["audience"] == ["dba"]
    assert page["link"] == (
        "http://127.0.0.1:8233/namespaces/default/workflows/"
        "failover-production-20261203/0192f0e1-run/history"
    )
    [request] = double.of_kind("paging")
    assert request.headers["content-type"] == "application/json"


async def test_no_chat_settings_sends_nothing(double: SlackHttpDouble):
    await notify(None)

    assert double.requests == []


async def test_webhook_answering_500_raises_a_retryable_error(
    double: SlackHttpDouble,
):
    double.fail_webhook = 500

    error = await refusal({"channel": "#dr", "webhook_url": WEBHOOK})

    assert not error.non_retryable
    assert error.type == NOT_DELIVERED
    assert "HTTP 500: rollup_error" in error.message


async def test_rate_limit_retries_after_slacks_delay(double: SlackHttpDouble):
    double.fail_webhook, double.retry_after = 429, 30

    error = await refusal({"channel": "#dr", "webhook_url": WEBHOOK})

    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=30)


async def test_web_api_transient_error_is_retryable(double: SlackHttpDouble):
    double.api_error = "internal_error"
    chat = {"channel": "#dr", "bot_token": TOKEN, "api_url": double.api_url}

    error = await refusal(chat)

    assert not error.non_retryable
    assert "internal_error" in error.message


async def test_web_api_answering_500_is_retryable(double: SlackHttpDouble):
    double.api_status = 503
    chat = {"channel": "#dr", "bot_token": TOKEN, "api_url": double.api_url}

    error = await refusal(chat)

    assert not error.non_retryable
    assert "HTTP 503" in error.message


async def test_wrong_bot_token_is_not_retried(
    double: SlackHttpDouble, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", "xoxb-wrong-token-value")
    chat = {"channel": "#dr", "bot_token": TOKEN, "api_url": double.api_url}

    error = await refusal(chat)

    assert error.non_retryable
    assert error.type == PRECONDITION_FAILED
    assert "invalid_auth" in error.message


async def test_revoked_webhook_is_not_retried(
    double: SlackHttpDouble, monkeypatch: pytest.MonkeyPatch
):
    revoked = double.webhook_url.replace(double.webhook_secret, "revokedS3cretPart")
    monkeypatch.setenv("TEST_SLACK_WEBHOOK_URL", revoked)

    error = await refusal({"channel": "#dr", "webhook_url": WEBHOOK})

    assert error.non_retryable
    assert "HTTP 404: no_service" in error.message
    assert "revokedS3cretPart" not in error.message


async def test_unreachable_receiver_is_retryable(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TEST_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{port}/x/y/z")

    error = await refusal({"channel": "#dr", "webhook_url": WEBHOOK})

    assert not error.non_retryable
    assert "could not be reached: Connection refused" in error.message


async def test_missing_secret_is_not_retried_and_named_by_reference(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("TEST_SLACK_WEBHOOK_URL", raising=False)

    error = await refusal({"channel": "#dr", "webhook_url": WEBHOOK})

    assert error.non_retryable
    assert error.type == PRECONDITION_FAILED
    assert "chat.webhook_url env:TEST_SLACK_WEBHOOK_URL" in error.message


async def test_failed_pager_leaves_the_chat_post_done_and_a_retry_skips_it(
    double: SlackHttpDouble,
):
    double.fail_paging = 503
    chat = {"channel": "#dr", "webhook_url": WEBHOOK, "paging_webhook_url": PAGER}
    beats: list[Any] = []
    first = ActivityEnvironment()
    first.on_heartbeat = lambda *details: beats.append(details)

    with pytest.raises(ApplicationError, match="paging webhook answered HTTP 503"):
        await notify(chat, env=first)
    assert len(double.webhook_messages) == 1
    assert beats == [(["chat"],)]

    double.fail_paging = None
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=beats[-1])
    await notify(chat, env=retry)
    assert len(double.webhook_messages) == 1
    assert len(double.pages) == 1


async def test_no_secret_appears_in_logs_or_errors(
    double: SlackHttpDouble, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    secrets = [double.token, double.webhook_secret, double.paging_url]
    # An error page that quotes the address it was asked for, as proxies do.
    double.failure_body = f"upstream failed for {double.webhook_url}"
    errors = []
    chats = [
        {"channel": "#dr", "webhook_url": WEBHOOK, "paging_webhook_url": PAGER},
        {"channel": "#dr", "bot_token": TOKEN, "api_url": double.api_url},
    ]
    for chat in chats:
        await notify(chat)
        double.fail_webhook = double.fail_paging = 500
        double.api_error = "internal_error"
        with pytest.raises(ApplicationError) as caught:
            await notify(chat)
        errors.append(caught.value)
        double.fail_webhook = double.fail_paging = double.api_error = None

    assert "notice delivered to" in caplog.text
    assert "notice not delivered to" in caplog.text
    assert "[secret]" in errors[0].message
    told = caplog.text + "".join(
        "".join(traceback.format_exception(error)) for error in errors
    )
    for secret in secrets:
        assert secret not in told
