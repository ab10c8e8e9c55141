"""The chat bridge: Slack slash commands and buttons become votes on gates.

Slack calls two endpoints. ``/slack/commands`` receives the slash command
``/dr approve|reject <workflow-id> <gate> [comment]`` and ``/dr status
<workflow-id>``; ``/slack/interactions`` receives the clicks on the approve
and reject buttons of a gate notice. Every request must carry Slack's
signature over its timestamp and body, made with the app's signing secret,
and a timestamp at most five minutes away: anything else gets 401 and
Temporal hears nothing of it.

The Slack user is mapped to a person of the inventory; the bridge then asks
the run for the gate (the ``gates`` query), sends the Update ``approve`` or
``reject`` with a ballot from channel "slack", and answers in chat with the
verdict of the gate's validator. Where the gate's policy demands signed
votes, the bridge signs with its own key and names itself as the signer: it
vouches that the vote comes from that verified Slack user.

The Update id comes from the Slack request (the interaction's trigger id, or
else the request's timestamp and signature), so a request Slack delivers twice
counts once. Slack waits three seconds for an answer; when Temporal is slower
than that the bridge says so, and the vote is judged when a worker takes it.

Slack shows the answer to a slash command, but ignores the body of the answer
to a button click: for a click the bridge also posts the verdict to the
click's ``response_url`` (after answering Slack, with slack_sdk's webhook
client), where the person who clicked sees it under the notice. That URL is
a short-lived credential: it is never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackClientError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.chat import BUTTON_DECISIONS, parse_action_value
from odoo_dr.approvals import BRIDGE, Ballot, Decision, GateState
from odoo_dr.errors import InventoryError, OdooDrError
from odoo_dr.inventory import Approver, Environment, Inventory
from odoo_dr.models import RunbookStatus
from odoo_dr.secrets import resolve_secret
from odoo_dr.signing import new_nonce, public_key_of, sign_vote
from starters.voting import send_vote

logger = logging.getLogger(__name__)

COMMANDS_PATH = "/slack/commands"
INTERACTIONS_PATH = "/slack/interactions"
HEALTH_PATH = "/healthz"
USAGE = (
    "usage: /dr approve <workflow-id> <gate> [comment] | "
    "/dr reject <workflow-id> <gate> [comment] | /dr status <workflow-id>"
)

# Slack gives up on an answer after 3 s; Temporal gets most of that.
DEFAULT_BUDGET = timedelta(seconds=2.5)
# Slack's requests are small forms; anything larger is not from Slack.
MAX_BODY_BYTES = 64 * 1024
_COMMENT_LIMIT = 500

# slack_sdk logs the URLs it posts to at debug level; a response_url is a
# credential. Its client gets this logger, which drops everything.
_SLACK_SDK_LOG = logging.getLogger(f"{__name__}.slack_sdk")
_SLACK_SDK_LOG.setLevel(logging.CRITICAL)
_SLACK_SDK_LOG.propagate = False
_SLACK_SDK_LOG.addHandler(logging.NullHandler())


class BridgeError(OdooDrError):
    """The chat bridge cannot start: its settings or secrets are missing."""


@dataclass(frozen=True)
class SlackRequest:
    """One HTTP request as Slack sent it: where, the raw body, the headers."""

    path: str
    body: bytes
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass(frozen=True)
class Answer:
    """What the bridge sends back: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]

    @classmethod
    def chat(cls, text: str, *, public: bool = False) -> Answer:
        """A message Slack shows: to the whole channel or to the caller only."""
        kind = "in_channel" if public else "ephemeral"
        return cls(HTTPStatus.OK, {"response_type": kind, "text": text})


@dataclass(frozen=True)
class VoteRequest:
    """A decision a Slack user asked for, before it reaches the run."""

    slack_user: str
    decision: Decision
    workflow_id: str
    gate: str
    update_id: str
    run_id: str | None = None
    request_id: str | None = None
    comment: str = ""


class ChatBridge:
    """Turns verified Slack requests into Updates of one environment's runs."""

    def __init__(
        self,
        client: Client,
        environment: Environment,
        signing_secret: str,
        bridge_private_key: str | None = None,
        budget: timedelta = DEFAULT_BUDGET,
    ) -> None:
        """Bind the bridge to a Temporal client and an environment's people.

        The secrets are held in memory for checking and signing only; they
        are never logged or put in an answer.
        """
        self._client = client
        self._environment = environment
        self._verifier = SignatureVerifier(signing_secret)
        self._private_key = bridge_private_key
        self._budget = budget
        # Verdicts on their way to a click's response_url (kept referenced).
        self._replies: set[asyncio.Task[None]] = set()

    @property
    def environment(self) -> str:
        """The name of the environment whose runs the bridge steers."""
        return self._environment.name

    async def handle(self, request: SlackRequest) -> Answer:
        """Verify one Slack request, act on it, and say what to answer."""
        if request.path not in (COMMANDS_PATH, INTERACTIONS_PATH):
            return Answer(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"})
        if not self._authentic(request):
            logger.warning(
                "refused Slack request to %s: bad signature or timestamp more "
                "than 5 minutes away",
                request.path,
            )
            return Answer(
                HTTPStatus.UNAUTHORIZED,
                {"error": "invalid Slack signature or stale timestamp"},
            )
        form = _form(request.body)
        if request.path == COMMANDS_PATH:
            return await self._command(form, request)
        return await self._interaction(form, request)

    def _authentic(self, request: SlackRequest) -> bool:
        try:
            return self._verifier.is_valid(
                body=request.body,
                timestamp=request.header("X-Slack-Request-Timestamp"),
                signature=request.header("X-Slack-Signature"),
            )
        except (ValueError, UnicodeDecodeError):
            # A timestamp that is not a number, or a body that is not text.
            return False

    async def _command(self, form: dict[str, str], request: SlackRequest) -> Answer:
        user = form.get("user_id", "")
        words = form.get("text", "").split(maxsplit=3)
        verb = words[0].lower() if words else ""
        if verb == "status" and len(words) == 2:
            if self._person(user) is None:
                return self._unknown_user(user)
            return await self._guarded(self._status(words[1]))
        if verb in ("approve", "reject") and len(words) >= 3:
            vote = VoteRequest(
                slack_user=user,
                decision="approve" if verb == "approve" else "reject",
                workflow_id=words[1],
                gate=words[2],
                comment=words[3][:_COMMENT_LIMIT] if len(words) > 3 else "",
                update_id=_update_id(form.get("trigger_id"), request),
            )
            return await self.vote(vote)
        return Answer.chat(USAGE)

    async def _interaction(self, form: dict[str, str], request: SlackRequest) -> Answer:
        try:
            payload = json.loads(form.get("payload", ""))
            user = str(payload["user"]["id"])
            action = payload["actions"][0]
            decision = BUTTON_DECISIONS.get(str(action.get("action_id")))
            value = str(action.get("value", ""))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return Answer(HTTPStatus.BAD_REQUEST, {"error": "not a Slack interaction"})
        if payload.get("type") != "block_actions" or decision is None:
            return Answer.chat("this action is not a vote on an odoo-dr gate")
        try:
            button = parse_action_value(value)
        except ValueError as exc:
            return Answer.chat(f"this button cannot vote: {exc}")
        vote = VoteRequest(
            slack_user=user,
            decision=decision,
            workflow_id=button.workflow_id,
            run_id=button.run_id,
            gate=button.gate,
            request_id=button.request_id,
            update_id=_update_id(payload.get("trigger_id"), request),
        )
        answer = await self.vote(vote)
        response_url = payload.get("response_url")
        if isinstance(response_url, str) and response_url:
            reply = asyncio.create_task(self._reply(response_url, answer))
            self._replies.add(reply)
            reply.add_done_callback(self._replies.discard)
        return answer

    async def _reply(self, response_url: str, answer: Answer) -> None:
        """Show a click's verdict under the notice, through its response_url.

        Best effort: the vote is already judged; a reply that cannot be
        posted is logged, without the URL.
        """
        body = answer.body
        client = WebhookClient(response_url, timeout=10, logger=_SLACK_SDK_LOG)
        try:
            sent = await asyncio.to_thread(
                client.send,
                text=str(body.get("text", "")),
                response_type=str(body.get("response_type", "ephemeral")),
                replace_original=False,
            )
        except (OSError, SlackClientError) as exc:
            logger.warning("could not post a verdict to Slack: %s", type(exc).__name__)
            return
        if sent.status_code != 200:
            logger.warning(
                "Slack refused a verdict on its response URL: HTTP %s",
                sent.status_code,
            )

    async def drain(self) -> None:
        """Wait for the verdicts still being posted (before shutting down)."""
        if self._replies:
            await asyncio.gather(*self._replies, return_exceptions=True)

    async def vote(self, vote: VoteRequest) -> Answer:
        """Send a verified user's decision to the run; answer with the verdict."""
        person = self._person(vote.slack_user)
        if person is None:
            return self._unknown_user(vote.slack_user)
        answer = await self._guarded(self._send_vote(vote, person))
        logger.info(
            "Slack user %s (%s) %s gate %s of %s: %s",
            vote.slack_user,
            person.id,
            vote.decision,
            vote.gate,
            vote.workflow_id,
            answer.body.get("text"),
        )
        return answer

    async def _guarded(self, work: Coroutine[Any, Any, Answer]) -> Answer:
        """Run a Temporal exchange within Slack's patience; turn faults into text."""
        try:
            return await asyncio.wait_for(work, self._budget.total_seconds())
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return Answer.chat(
                "Temporal did not answer in time (is a worker running?). A vote "
                "that was sent is judged when a worker takes it, once only; "
                "check with /dr status."
            )
        except WorkflowQueryFailedError as exc:
            return Answer.chat(f"the run cannot answer: {exc.message}")
        except RPCError as exc:
            return Answer.chat(f"Temporal refused: {exc.message}")

    async def _send_vote(self, vote: VoteRequest, person: Approver) -> Answer:
        handle = await self._run_handle(vote.workflow_id, vote.run_id)
        if isinstance(handle, Answer):
            return handle
        gates = await handle.query("gates", result_type=list[GateState])
        gate = next((g for g in gates if g.name == vote.gate), None)
        if gate is None:
            open_names = ", ".join(g.name for g in gates if g.outcome == "open")
            return Answer.chat(
                f"run {vote.workflow_id} has no gate {vote.gate!r} "
                f"(open gates: {open_names or 'none'})"
            )
        if gate.policy.signed and not self._private_key:
            return Answer.chat(
                f"gate {gate.name} needs signed votes, and this bridge has no "
                "key (chat.bridge_private_key); vote with odoo-dr approve"
            )
        ballot = self._ballot(vote, person, gate, handle.run_id or "")
        try:
            closed = await send_vote(handle, vote.decision, ballot, vote.update_id)
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                reason = cause.message
            else:
                reason = str(cause or exc)
            return Answer.chat(
                f"gate {vote.gate} of {vote.workflow_id}: vote refused: {reason}"
            )
        return Answer.chat(_verdict(closed, person.id, vote), public=True)

    async def _run_handle(
        self, workflow_id: str, run_id: str | None
    ) -> WorkflowHandle[Any, Any] | Answer:
        """The run to vote on, pinned to a run id, if it is of this environment."""
        handle = self._client.get_workflow_handle(workflow_id, run_id=run_id)
        if run_id is None:
            try:
                described = await handle.describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                return Answer.chat(f"no run {workflow_id!r} is known to Temporal")
            handle = self._client.get_workflow_handle(
                workflow_id, run_id=described.run_id
            )
        status = await handle.query("status", result_type=RunbookStatus)
        if status.environment != self.environment:
            return Answer.chat(
                f"run {workflow_id} belongs to environment {status.environment}; "
                f"this bridge serves {self.environment}"
            )
        return handle

    def _ballot(
        self, vote: VoteRequest, person: Approver, gate: GateState, run_id: str
    ) -> Ballot:
        nonce = new_nonce()
        signature = None
        if gate.policy.signed and self._private_key:
            signature = sign_vote(
                self._private_key, run_id, gate.name, vote.decision, nonce
            )
        return Ballot(
            gate=gate.name,
            request_id=vote.request_id or gate.request_id,
            person=person.id,
            channel="slack",
            comment=vote.comment,
            nonce=nonce,
            signature=signature,
            signer=BRIDGE if signature else None,
        )

    async def _status(self, workflow_id: str) -> Answer:
        handle = await self._run_handle(workflow_id, None)
        if isinstance(handle, Answer):
            return handle
        status = await handle.query("status", result_type=RunbookStatus)
        gates = await handle.query("gates", result_type=list[GateState])
        return Answer.chat(render_status(workflow_id, status, gates))

    def _person(self, slack_user: str) -> Approver | None:
        people = self._environment.approvals.people
        return next(
            (p for p in people if slack_user and p.slack_user == slack_user), None
        )

    def _unknown_user(self, slack_user: str) -> Answer:
        logger.warning(
            "refused Slack user %s: not an approver of %s", slack_user, self.environment
        )
        return Answer.chat(
            f"Slack user {slack_user or '(none)'} is not an approver of "
            f"environment {self.environment}; nothing was sent"
        )


def render_status(
    workflow_id: str, status: RunbookStatus, gates: list[GateState]
) -> str:
    """A run's phase, step and gates, as one chat message."""
    lines = [
        f"{status.runbook} of {status.environment} ({workflow_id}): "
        f"phase {status.phase}, step {status.step or 'none'}",
    ]
    if status.waiting_for:
        lines.append(f"waiting for {status.waiting_for}")
    for gate in gates:
        votes = ", ".join(f"{v.person} {v.decision}" for v in gate.votes) or "none"
        lines.append(
            f"gate {gate.name} {gate.outcome} (request {gate.request_id}, "
            f"roles {', '.join(gate.policy.roles)}, "
            f"{len(gate.approvals)}/{gate.policy.quorum} approvals; votes: {votes})"
        )
    if not gates:
        lines.append("no gates opened so far")
    return "\n".join(lines)


def _verdict(gate: GateState, person: str, vote: VoteRequest) -> str:
    mine = next((v for v in reversed(gate.votes) if v.person == person), None)
    role = f" as {mine.role}" if mine and mine.role else ""
    past = "approved" if vote.decision == "approve" else "rejected"
    signer = (
        f", signed by {mine.verified_signer}" if mine and mine.verified_signer else ""
    )
    return (
        f"gate {gate.name} of {vote.workflow_id}: {past} by {person}{role}"
        f"{signer}; the gate is {gate.outcome} "
        f"({len(gate.approvals)}/{gate.policy.quorum} approvals)"
    )


def _update_id(trigger_id: object, request: SlackRequest) -> str:
    """An Update id that is the same for every delivery of one Slack request.

    Slack's trigger id names one user action; without it, the request's
    timestamp and signature do (they change only with a new request).
    """
    if trigger_id:
        key = f"trigger:{trigger_id}"
    else:
        timestamp = request.header("X-Slack-Request-Timestamp") or ""
        key = f"signed:{timestamp}:{request.header('X-Slack-Signature') or ''}"
    return "slack-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _form(body: bytes) -> dict[str, str]:
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def bridge_for(
    client: Client, environment: Environment, budget: timedelta = DEFAULT_BUDGET
) -> ChatBridge:
    """A bridge for ``environment`` with its secrets resolved from the inventory.

    Raises:
        BridgeError: see :func:`bridge_secrets`.
        SecretError: a secret reference does not resolve.
    """
    signing_secret, private_key = bridge_secrets(environment)
    return ChatBridge(client, environment, signing_secret, private_key, budget)


def bridge_secrets(environment: Environment) -> tuple[str, str | None]:
    """The Slack signing secret and the bridge's private key (if any).

    Raises:
        BridgeError: the environment has no chat settings or signing secret,
            or the bridge's key does not match approvals.bridge_public_key.
        SecretError: a secret reference does not resolve.
    """
    chat = environment.chat
    if chat is None or chat.signing_secret is None:
        raise BridgeError(
            f"environment {environment.name} has no chat.signing_secret: add the "
            "Slack app's signing secret as a reference ({env: ...} or {file: ...})"
        )
    signing_secret = resolve_secret(chat.signing_secret)
    if chat.bridge_private_key is None:
        return signing_secret, None
    private_key = resolve_secret(chat.bridge_private_key)
    expected = environment.approvals.bridge_public_key
    if expected is not None and public_key_of(private_key) != expected:
        raise BridgeError(
            f"chat.bridge_private_key of {environment.name} does not match "
            "approvals.bridge_public_key: signed votes would be refused"
        )
    return signing_secret, private_key


class BridgeServer:
    """The bridge's HTTP endpoint, served from a thread for an asyncio loop.

    Requests are read in the server's threads and handed to the bridge on
    ``loop``, where the Temporal client lives.
    """

    def __init__(
        self,
        bridge: ChatBridge,
        loop: asyncio.AbstractEventLoop,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Bind the listening socket (port 0 picks a free one)."""
        self._http = ThreadingHTTPServer((host, port), _SlackHandler)
        self._http.daemon_threads = True
        self._http.bridge = bridge  # type: ignore[attr-defined]
        self._http.loop = loop  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="chatops-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the endpoint listens on."""
        host, port = self._http.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The endpoint's base address."""
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve requests in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


class _SlackHandler(BaseHTTPRequestHandler):
    server_version = "odoo-dr-chatops"

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._send(Answer(HTTPStatus.OK, {"ok": True}))
        else:
            self._send(Answer(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"}))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "size"}))
            return
        request = SlackRequest(
            path=self.path.split("?", 1)[0],
            body=self.rfile.read(length),
            headers=dict(self.headers.items()),
        )
        bridge: ChatBridge = self.server.bridge  # type: ignore[attr-defined]
        loop: asyncio.AbstractEventLoop = self.server.loop  # type: ignore[attr-defined]
        future = asyncio.run_coroutine_threadsafe(bridge.handle(request), loop)
        try:
            answer = future.result(timeout=30)
        except Exception:
            future.cancel()
            logger.exception("Slack request to %s failed", request.path)
            answer = Answer.chat("the bridge failed on this request; see its log")
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        body = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's access log, routed to the module logger.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)


async def serve(
    address: str,
    namespace: str,
    environment: Environment,
    host: str,
    port: int,
    stop: asyncio.Event,
) -> None:
    """Serve the bridge until ``stop`` is set.

    Raises:
        BridgeError: a setting or secret is missing, Temporal cannot be
            reached, or the port cannot be bound.
        SecretError: a secret reference does not resolve.
    """
    from worker.main import connect

    # Settings first: a missing secret is refused before anything connects.
    signing_secret, private_key = bridge_secrets(environment)
    try:
        client = await connect(address, namespace)
    except RuntimeError as exc:
        raise BridgeError(f"cannot reach Temporal at {address}: {exc}") from None
    bridge = ChatBridge(client, environment, signing_secret, private_key)
    try:
        server = BridgeServer(bridge, asyncio.get_running_loop(), host, port)
    except OSError as exc:
        raise BridgeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server.start()
    logger.info(
        "chat bridge for %s listening on %s (%s, %s), Temporal at %s",
        environment.name,
        server.url,
        COMMANDS_PATH,
        INTERACTIONS_PATH,
        address,
    )
    try:
        await stop.wait()
    finally:
        await asyncio.to_thread(server.stop)
        await bridge.drain()
        logger.info("chat bridge stopped")


def environment_of(inventory: Inventory, name: str | None) -> Environment:
    """The environment to serve: the named one, or the only one there is.

    Raises:
        InventoryError: the name is unknown, or none was given and the
            inventory has several environments.
    """
    if name is not None:
        return inventory.environment(name)
    if len(inventory.environments) == 1:
        return next(iter(inventory.environments.values()))
    known = ", ".join(sorted(inventory.environments))
    raise InventoryError(f"the inventory has environments {known}: pass --env")
