"""The chat bridge on the sandbox's real Temporal: Slack requests become votes.

Requests are signed the way Slack signs them (``v0=`` HMAC-SHA256 of
``v0:{timestamp}:{body}`` with the app's signing secret) and posted to the
bridge's HTTP endpoint. The drills run on a worker of their own, fed an
inventory derived from the sandbox's: Slack user ids for the people, chat
settings with the signing secret and the bridge's key in files, and a payroll
sign-off gate that demands signed votes (the bridge signs for Slack users).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from temporalio.client import Client, WorkflowHandle

from activities.chat import APPROVE_ACTION
from odoo_dr.approvals import GateState
from odoo_dr.inventory import (
    ChatSettings,
    Environment,
    SecretRef,
    dump_inventory,
    load_inventory,
)
from odoo_dr.models import DrillInput, DrillReport
from odoo_dr.signing import new_key_pair
from starters.chatops import (
    COMMANDS_PATH,
    INTERACTIONS_PATH,
    BridgeServer,
    bridge_for,
)
from tests.conftest import Sandbox
from tests.doubles.slack_http import SlackHttpDouble
from tests.integration.test_drill import history_text
from worker.main import build_worker
from workflows.drill import RestoreDrillWorkflow

SLACK_USERS = {
    "maria": "U0MARIA01",
    "tom": "U0TOM0001",
    "petra": "U0PETRA01",
    "jonas": "U0JONAS01",
    "lena": "U0LENA001",
}
PAYROLL = "sign_off_payroll"
PAYABLES = "sign_off_payables"


@dataclass
class ChatSetup:
    environment: Environment
    signing_secret: str
    private_key: str
    slack: SlackHttpDouble  # where the worker posts its gate notices


@dataclass
class Reply:
    status: int
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.body.get("text", ""))


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackHttpDouble]:
    """A double of Slack's Web API, with a bot token of its own."""
    with SlackHttpDouble(token=f"xoxb-{secrets.token_hex(12)}") as running:
        yield running


@pytest.fixture(scope="module")
def chat_setup(
    sandbox: Sandbox, slack: SlackHttpDouble, tmp_path_factory: pytest.TempPathFactory
):
    """The sandbox inventory with Slack ids, chat secrets and a signed gate."""
    folder = tmp_path_factory.mktemp("chatops")
    signing_secret = secrets.token_hex(16)
    private_key, public_key = new_key_pair()
    secret_file = folder / "slack-signing-secret"
    key_file = folder / "chat-bridge.key"
    token_file = folder / "slack-bot-token"
    for path, value in (
        (secret_file, signing_secret),
        (key_file, private_key),
        (token_file, slack.token),
    ):
        path.write_text(value + "\n")
        path.chmod(0o600)

    env = sandbox.env
    rules = dict(env.approvals.gates)
    rules[PAYROLL] = rules[PAYROLL].model_copy(update={"signed": True})
    approvals = env.approvals.model_copy(
        update={
            "people": [
                p.model_copy(update={"slack_user": SLACK_USERS[p.id]})
                for p in env.approvals.people
            ],
            "gates": rules,
            "bridge_public_key": public_key,
        }
    )
    chat = ChatSettings(
        channel="#dr-sandbox",
        api_url=slack.api_url,
        bot_token=SecretRef(file=token_file),
        signing_secret=SecretRef(file=secret_file),
        bridge_private_key=SecretRef(file=key_file),
    )
    inventory = sandbox.inventory.model_copy(
        update={
            "environments": {
                "sandbox": env.model_copy(update={"chat": chat, "approvals": approvals})
            }
        }
    )
    path = folder / "inventory.yaml"
    path.write_text(dump_inventory(inventory))
    # Read back through the loader, so the file is validated like a user's.
    loaded = load_inventory(path).environment("sandbox")
    return ChatSetup(loaded, signing_secret, private_key, slack)


@pytest.fixture(scope="module")
async def chat_queue(
    sandbox: Sandbox, client: Client, chat_setup: ChatSetup
) -> AsyncIterator[str]:
    """A worker on its own task queue, reading the chat inventory."""
    queue = f"odoo-dr-chatops-{uuid.uuid4().hex[:8]}"
    inventory = sandbox.inventory.model_copy(
        update={"environments": {"sandbox": chat_setup.environment}}
    )
    async with build_worker(client, inventory, queue):
        yield queue


@pytest.fixture(scope="module")
async def bridge(client: Client, chat_setup: ChatSetup) -> AsyncIterator[str]:
    """The bridge's HTTP endpoint on a free port; yields its base address."""
    server = BridgeServer(
        bridge_for(client, chat_setup.environment), asyncio.get_running_loop()
    )
    server.start()
    yield server.url
    await asyncio.to_thread(server.stop)


@pytest.fixture(scope="module")
async def waiting_drill(
    seeded: str, client: Client, chat_queue: str, bridge: str, chat_setup: ChatSetup
) -> AsyncIterator[WorkflowHandle]:
    """A drill that waits at its payroll sign-off, for tests that change nothing."""
    handle = await drill_at_gate(client, chat_queue, ["payroll"])
    yield handle
    # End it the way people would, so that its copy is torn down.
    await slash(bridge, chat_setup, "petra", f"reject {handle.id} {PAYROLL} done")
    report = await handle.result()
    assert report.torn_down


# How Slack calls the bridge.


def slack_headers(body: str, secret: str, timestamp: int | None = None):
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def command_body(person: str, text: str, user: str | None = None) -> str:
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0ODOODR",
            "channel_id": "C0DRROOM",
            "user_id": user or SLACK_USERS[person],
            "user_name": person,
            "command": "/dr",
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T0ODOODR/1/x",
            "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
        }
    )


def click_body(person: str, button: dict[str, Any], response_url: str) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": SLACK_USERS[person], "username": person},
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1.{uuid.uuid4().hex}",
        "actions": [
            {
                "action_id": button["action_id"],
                "type": "button",
                "value": button["value"],
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


async def post(base: str, path: str, body: str, headers: dict[str, str]) -> Reply:
    def send() -> Reply:
        request = urllib.request.Request(
            base + path, data=body.encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, json.loads(exc.read()))

    return await asyncio.to_thread(send)


async def slash(base: str, setup: ChatSetup, person: str, text: str) -> Reply:
    body = command_body(person, text)
    return await post(
        base, COMMANDS_PATH, body, slack_headers(body, setup.signing_secret)
    )


# The drills the votes go to.


async def drill_at_gate(
    client: Client, queue: str, areas: list[str], gate: str = PAYROLL
) -> WorkflowHandle:
    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(environment="sandbox", sign_off=areas, requested_by="maria"),
        id=f"test-chatops-{uuid.uuid4().hex[:8]}",
        task_queue=queue,
    )
    await gate_opens(handle, gate)
    return handle


async def gate_opens(handle: WorkflowHandle, name: str) -> GateState:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        found = await gate_of(handle, name)
        if found is not None and found.outcome == "open":
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"gate {name} of {handle.id} never opened")


async def gate_of(handle: WorkflowHandle, name: str) -> GateState | None:
    gates = await handle.query(RestoreDrillWorkflow.gates)
    return next((g for g in gates if g.name == name), None)


async def assert_unchanged(handle: WorkflowHandle, before: GateState) -> None:
    after = await gate_of(handle, before.name)
    assert after is not None
    assert (after.outcome, after.request_id) == ("open", before.request_id)
    assert after.votes == [] and after.refused == []


async def posted_button(
    slack: SlackHttpDouble, handle: WorkflowHandle, gate: GateState
) -> dict[str, Any]:
    """The Approve button of the notice the worker posted when the gate opened."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for received in slack.api_messages:
            blocks = received.json()["blocks"]
            if isinstance(blocks, str):  # a form body carries them as JSON
                blocks = json.loads(blocks)
            for block in blocks:
                for element in block.get("elements", []):
                    value = element.get("value", "")
                    if (
                        element.get("action_id") == APPROVE_ACTION
                        and handle.id in value
                        and gate.request_id in value
                    ):
                        return dict(element)
        await asyncio.sleep(0.2)
    raise AssertionError(f"no notice with buttons was posted for {handle.id}")


async def response_to(slack: SlackHttpDouble, response_url: str) -> dict[str, Any]:
    """The message the bridge posted to a click's response_url."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [r for r in slack.responses if r["url"] == response_url]
        if found:
            return found[-1]
        await asyncio.sleep(0.1)
    raise AssertionError("the bridge posted nothing to the click's response_url")


async def report_of(handle: WorkflowHandle) -> DrillReport:
    return await handle.result()


# Votes that count.


async def test_signed_slash_command_from_the_payroll_lead_approves_the_drill(
    seeded: str, client: Client, chat_queue: str, bridge: str, chat_setup: ChatSetup
):
    handle = await drill_at_gate(client, chat_queue, ["payroll"])

    reply = await slash(
        bridge, chat_setup, "petra", f"approve {handle.id} {PAYROLL} payslips match"
    )

    assert reply.status == 200, reply.body
    assert "approved by petra" in reply.text
    assert reply.body["response_type"] == "in_channel"
    report = await report_of(handle)
    assert report.verdict == "pass", report.failure
    [gate] = report.approvals
    [vote] = gate.votes
    assert (gate.outcome, vote.person, vote.role) == (
        "approved",
        "petra",
        "payroll_lead",
    )
    assert (vote.channel, vote.comment) == ("slack", "payslips match")
    assert vote.verified_signer == "chat-bridge for petra"


async def test_button_click_of_the_gate_notice_approves(
    seeded: str, client: Client, chat_queue: str, bridge: str, chat_setup: ChatSetup
):
    handle = await drill_at_gate(client, chat_queue, ["payroll"])
    gate = await gate_opens(handle, PAYROLL)
    button = await posted_button(chat_setup.slack, handle, gate)
    response_url = chat_setup.slack.response_url(uuid.uuid4().hex)
    body = click_body("petra", button, response_url)

    reply = await post(
        bridge,
        INTERACTIONS_PATH,
        body,
        slack_headers(body, chat_setup.signing_secret),
    )

    assert reply.status == 200, reply.body
    assert "approved by petra" in reply.text
    # Slack ignores the answer to a click: the verdict goes to response_url.
    shown = await response_to(chat_setup.slack, response_url)
    assert shown["text"] == reply.text
    assert shown["replace_original"] is False
    report = await report_of(handle)
    assert report.verdict == "pass", report.failure
    assert [v.person for v in report.approvals[0].votes] == ["petra"]


async def test_a_slack_request_delivered_twice_counts_once(
    seeded: str, client: Client, chat_queue: str, bridge: str, chat_setup: ChatSetup
):
    # Two sign-offs: the run still waits at payables when the retry arrives.
    handle = await drill_at_gate(client, chat_queue, ["payroll", "payables"])
    body = command_body("petra", f"approve {handle.id} {PAYROLL}")
    headers = slack_headers(body, chat_setup.signing_secret)

    first = await post(bridge, COMMANDS_PATH, body, headers)
    await gate_opens(handle, PAYABLES)
    again = await post(bridge, COMMANDS_PATH, body, headers)

    assert "approved by petra" in first.text
    assert again.text == first.text
    payroll = await gate_of(handle, PAYROLL)
    assert payroll is not None and len(payroll.votes) == 1
    await slash(bridge, chat_setup, "jonas", f"reject {handle.id} {PAYABLES} enough")
    assert (await report_of(handle)).torn_down


# Requests that are refused and change nothing.


async def test_wrong_signature_is_refused_before_temporal(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    before = await gate_opens(waiting_drill, PAYROLL)
    body = command_body("petra", f"approve {waiting_drill.id} {PAYROLL}")

    reply = await post(
        bridge, COMMANDS_PATH, body, slack_headers(body, "not-the-signing-secret")
    )

    assert reply.status == 401
    await assert_unchanged(waiting_drill, before)


async def test_timestamp_older_than_five_minutes_is_refused(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    before = await gate_opens(waiting_drill, PAYROLL)
    body = command_body("petra", f"approve {waiting_drill.id} {PAYROLL}")
    stale = int(time.time()) - 6 * 60

    reply = await post(
        bridge,
        COMMANDS_PATH,
        body,
        slack_headers(body, chat_setup.signing_secret, stale),
    )

    assert reply.status == 401
    await assert_unchanged(waiting_drill, before)


async def test_unknown_slack_user_is_refused_in_chat(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    before = await gate_opens(waiting_drill, PAYROLL)
    body = command_body(
        "mallory", f"approve {waiting_drill.id} {PAYROLL}", user="U0STRANGER"
    )

    reply = await post(
        bridge, COMMANDS_PATH, body, slack_headers(body, chat_setup.signing_secret)
    )

    assert reply.status == 200
    assert reply.body["response_type"] == "ephemeral"
    assert "U0STRANGER is not an approver of environment sandbox" in reply.text
    await assert_unchanged(waiting_drill, before)


async def test_known_user_without_the_gate_role_gets_the_validators_reason(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    before = await gate_opens(waiting_drill, PAYROLL)

    reply = await slash(
        bridge, chat_setup, "tom", f"approve {waiting_drill.id} {PAYROLL}"
    )

    assert reply.status == 200
    assert "vote refused: tom holds none of the roles" in reply.text
    await assert_unchanged(waiting_drill, before)


async def test_stale_button_of_an_earlier_request_is_refused(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    before = await gate_opens(waiting_drill, PAYROLL)
    # The button of a notice about an earlier opening of the same gate.
    button = await posted_button(chat_setup.slack, waiting_drill, before)
    value = json.loads(button["value"])
    button["value"] = json.dumps({**value, "q": f"{PAYROLL}-0"})
    response_url = chat_setup.slack.response_url(uuid.uuid4().hex)
    body = click_body("petra", button, response_url)

    reply = await post(
        bridge, INTERACTIONS_PATH, body, slack_headers(body, chat_setup.signing_secret)
    )

    assert "vote refused: stale request" in reply.text
    shown = await response_to(chat_setup.slack, response_url)
    assert (shown["text"], shown["response_type"]) == (reply.text, "ephemeral")
    await assert_unchanged(waiting_drill, before)


async def test_status_shows_the_phase_and_the_open_gate(
    waiting_drill: WorkflowHandle, bridge: str, chat_setup: ChatSetup
):
    await gate_opens(waiting_drill, PAYROLL)

    reply = await slash(bridge, chat_setup, "maria", f"status {waiting_drill.id}")

    assert reply.body["response_type"] == "ephemeral"
    assert "restore-drill of sandbox" in reply.text
    assert f"gate {PAYROLL} open" in reply.text
    assert "0/1 approvals; votes: none" in reply.text


async def test_unknown_run_is_answered_in_chat(bridge: str, chat_setup: ChatSetup):
    reply = await slash(bridge, chat_setup, "petra", f"approve no-such-run {PAYROLL}")

    assert reply.status == 200
    assert "no run 'no-such-run' is known to Temporal" in reply.text


# Secrets.


async def test_no_secret_in_answers_logs_or_the_run_history(
    seeded: str,
    client: Client,
    chat_queue: str,
    bridge: str,
    chat_setup: ChatSetup,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)
    handle = await drill_at_gate(client, chat_queue, ["payroll"])
    body = command_body("petra", f"approve {handle.id} {PAYROLL}")
    replies = [
        await post(bridge, COMMANDS_PATH, body, slack_headers(body, "wrong")),
        await slash(bridge, chat_setup, "petra", f"status {handle.id}"),
        await slash(bridge, chat_setup, "petra", f"approve {handle.id} {PAYROLL}"),
    ]
    await report_of(handle)

    history = await handle.fetch_history()
    seen = "\n".join(
        [history_text(history.to_json()), caplog.text]
        + [json.dumps(r.body) for r in replies]
    )
    assert "approved by petra" in replies[-1].text
    # The gate's notices went out with the bot token, which stayed out too.
    posted = [r for r in chat_setup.slack.api_messages if handle.id in r.body.decode()]
    assert len(posted) >= 2  # opened, closed
    secrets_ = (
        chat_setup.signing_secret,
        chat_setup.private_key,
        chat_setup.slack.token,
    )
    for secret in secrets_:
        assert secret not in seen
