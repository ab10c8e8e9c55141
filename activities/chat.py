"""Activities that reach people: the approval policy, and notices about gates.

A notice never decides anything: it tells people that a gate opened,
escalated or closed, and how to vote. Delivery retries; a notice that cannot
be delivered is logged by the workflow and the gate goes on waiting.

The chat notice is a Slack Block Kit message, posted through an incoming
webhook or the Web API's ``chat.postMessage``. Its Approve and Reject buttons
carry the run and the gate in a compact value written by
:func:`action_value`; the chat bridge reads a clicked button back with
:func:`parse_action_value`. A paging tool can also receive each notice as
plain JSON (:func:`paging_payload`) on a webhook of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient
from temporalio import activity
from temporalio.exceptions import ApplicationError

from odoo_dr.approvals import (
    ApprovalPlan,
    Decision,
    Escalation,
    GateNotice,
    GatePolicy,
    GateState,
    Person,
)
from odoo_dr.errors import PRECONDITION_FAILED, SecretError
from odoo_dr.inventory import (
    Approver,
    ChatSettings,
    Environment,
    GateRule,
    Inventory,
    SecretRef,
)
from odoo_dr.models import RunNotice
from odoo_dr.secrets import resolve_secret

# The action ids of the two buttons, and the decision each one casts.
APPROVE_ACTION = "odoo_dr_approve"
REJECT_ACTION = "odoo_dr_reject"
BUTTON_DECISIONS: dict[str, Decision] = {
    APPROVE_ACTION: "approve",
    REJECT_ACTION: "reject",
}

# ApplicationError type of a notice that may get through on a later attempt.
NOT_DELIVERED = "NoticeNotDelivered"

HTTP_TIMEOUT_SECONDS = 10
SLACK_API_URL = "https://slack.com/api/"

# Slack's limits on a button value, a section's text and one of its fields.
_VALUE_LIMIT = 2000
_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000

# The keys of a button value, and the GateAction fields they fill.
_VALUE_KEYS = {"w": "workflow_id", "r": "run_id", "g": "gate", "q": "request_id"}

# Web API errors that no retry mends: the token, the app's rights, the
# channel or the message itself must be fixed first.
_PERMANENT_API_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "ekm_access_denied",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "not_allowed_token_type",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "team_access_not_granted",
        "token_expired",
        "token_revoked",
    }
)

# slack_sdk logs each request's URL (an incoming webhook's URL is its secret)
# and the proxy address at debug level, and the URL again in some errors. Its
# clients get this logger, which drops everything; failures are logged by
# notify_gate, without secrets.
_SLACK_SDK_LOG = logging.getLogger(f"{__name__}.slack_sdk")
_SLACK_SDK_LOG.setLevel(logging.CRITICAL)
_SLACK_SDK_LOG.propagate = False
_SLACK_SDK_LOG.addHandler(logging.NullHandler())


# Button values: written here, read back by the chat bridge.


@dataclass(frozen=True)
class GateAction:
    """The run and the gate request a chat button votes on."""

    workflow_id: str
    run_id: str
    gate: str
    request_id: str


def action_value(notice: GateNotice) -> str:
    """The value both buttons carry: ``{"w", "r", "g", "q"}`` as compact JSON.

    ``w`` is the workflow id, ``r`` the run id, ``g`` the gate's name and
    ``q`` the gate's request id (a vote for an older opening is refused as
    stale). The button's ``action_id`` says which decision it casts.

    Raises:
        ValueError: the value would exceed Slack's 2,000 characters.
    """
    value = json.dumps(
        {
            "w": notice.workflow_id,
            "r": notice.run_id,
            "g": notice.gate.name,
            "q": notice.gate.request_id,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    if len(value) > _VALUE_LIMIT:
        raise ValueError(
            f"a button value of {len(value)} characters exceeds Slack's {_VALUE_LIMIT}"
        )
    return value


def parse_action_value(text: str) -> GateAction:
    """The run and gate request of a button value written by :func:`action_value`.

    Raises:
        ValueError: ``text`` is not such a value; the message says why.
    """
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise ValueError("the button value is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the button value is not a JSON object")
    fields = {}
    for key, name in _VALUE_KEYS.items():
        item = data.get(key)
        if not isinstance(item, str) or not item:
            raise ValueError(f"the button value has no {name} (key {key!r})")
        fields[name] = item
    return GateAction(**fields)


# The Slack message.


@dataclass(frozen=True)
class ChatMessage:
    """A Slack message: the notification text and its Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]]


_HEADLINES = {
    "opened": "Approval needed: {gate} in {runbook} on {env}",
    "escalated": "Escalated: {gate} in {runbook} on {env} still needs approval",
    "closed": "{gate} in {runbook} on {env}: {outcome}",
}
_OUTCOME_WORDS = {
    "open": "still open",
    "approved": "approved",
    "rejected": "rejected",
    "timed_out": "timed out",
}


def gate_message(
    notice: GateNotice,
    *,
    people: Sequence[Approver] = (),
    link: str | None = None,
) -> ChatMessage:
    """The Slack message about a gate that opened, escalated or closed.

    Says the runbook, environment, run and gate, what the gate's step will
    do, the evidence and votes so far, and who is asked (people with a Slack
    user are mentioned). An open gate's message ends with Approve and Reject
    buttons; a closed gate's message gives the outcome instead.

    Args:
        notice: what the workflow reports.
        people: the environment's approvers, to name and mention them.
        link: the run's page in the Temporal web UI, if known.
    """
    gate = notice.gate
    blocks: list[dict[str, Any]] = [
        _header(_headline(notice)),
        {"type": "section", "fields": _facts(notice, people, link)},
    ]
    if notice.event == "escalated":
        blocks.append(_section(_escalation(notice, people)))
    blocks += [
        _section(f"*What it will do*\n{_escape(gate.what)}"),
        _section(f"*Evidence so far*\n{_bullets(gate.evidence)}"),
        _section(f"*Votes so far*\n{_votes(gate)}"),
    ]
    if notice.event == "closed":
        blocks.append(_section(_outcome(gate)))
    else:
        blocks.append(_buttons(notice))
    blocks.append(_context(notice, link))
    return ChatMessage(text=_summary(notice, people), blocks=blocks)


def _headline(notice: GateNotice) -> str:
    return _HEADLINES[notice.event].format(
        gate=notice.gate.name,
        runbook=notice.runbook,
        env=notice.environment,
        outcome=_OUTCOME_WORDS[notice.gate.outcome],
    )


def _summary(notice: GateNotice, people: Sequence[Approver]) -> str:
    """The message's plain text: what a phone's notification shows."""
    gate, asked = notice.gate, _audience(notice.audience, people)
    where = _escape(f"{gate.name} of {notice.runbook} on {notice.environment}")
    if notice.event == "opened":
        text = (
            f"Approval needed for gate {where}: {_escape(gate.what)} (asked: {asked})"
        )
    elif notice.event == "escalated":
        text = f"Escalated to {asked}: gate {where} still needs approval"
    else:
        text = f"Gate {where} closed: {_OUTCOME_WORDS[gate.outcome]}"
    return _clip(text, _SECTION_LIMIT)


def _facts(
    notice: GateNotice, people: Sequence[Approver], link: str | None
) -> list[dict[str, str]]:
    gate, policy = notice.gate, notice.gate.policy
    if link:
        run = f"<{link}|{_escape(notice.workflow_id)}>"
    else:
        run = _code(notice.workflow_id)
    if gate.closed_at is not None:
        when = f"*Closed*\n{_when(gate.closed_at)}"
    else:
        when = f"*Decide by*\n{_when(gate.opened_at + policy.timeout)}"
    facts = [
        f"*Runbook*\n{_escape(notice.runbook)}",
        f"*Environment*\n{_escape(notice.environment)}",
        f"*Run*\n{run}",
        f"*Gate*\n{_code(gate.name)} (request {_code(gate.request_id)})",
        f"*Asked*\n{_audience(notice.audience, people)}",
        f"*Needs*\n{_escape(_needs(policy))}",
        when,
    ]
    return [_mrkdwn(_clip(fact, _FIELD_LIMIT)) for fact in facts]


def _needs(policy: GatePolicy) -> str:
    plural = "s" if policy.quorum > 1 else ""
    text = f"{policy.quorum} approval{plural} from {', '.join(policy.roles)}"
    if policy.distinct_roles:
        text += ", each in a different role"
    if policy.two_person:
        text += "; not from the person who started the run"
    if policy.signed:
        text += "; signed votes only"
    return text


def _escalation(notice: GateNotice, people: Sequence[Approver]) -> str:
    gate = notice.gate
    deadline = _when(gate.opened_at + gate.policy.timeout)
    return (
        f":rotating_light: *Escalated* to {_audience(notice.audience, people)}: "
        f"no decision since {_when(gate.opened_at)}. Silence never approves: "
        f"without enough approvals by {deadline} the gate times out and the run "
        "does not take this step."
    )


def _votes(gate: GateState) -> str:
    lines = []
    for vote in gate.votes:
        mark = ":white_check_mark:" if vote.decision == "approve" else ":x:"
        line = (
            f"{mark} {_escape(vote.person)} ({_escape(vote.role)}) "
            f"{vote.decision}d via {vote.channel}, {_when(vote.at)}"
        )
        if vote.comment:
            line += f": _{_escape(vote.comment)}_"
        if vote.verified_signer:
            line += f" (signed by {_escape(vote.verified_signer)})"
        lines.append(line)
    for refused in gate.refused:
        lines.append(
            f":no_entry_sign: refused: {_escape(refused.person)}'s "
            f"{refused.decision} via {refused.channel}: {_escape(refused.reason)}"
        )
    if not lines:
        return "none yet"
    approvals = f"{len(gate.approvals)} of {gate.policy.quorum} approvals"
    return "\n".join([approvals, *lines])


def _outcome(gate: GateState) -> str:
    approvers = ", ".join(f"{v.person} ({v.role})" for v in gate.approvals)
    rejecters = ", ".join(v.person for v in gate.votes if v.decision == "reject")
    if gate.outcome == "approved":
        text = f":white_check_mark: *Approved* by {_escape(approvers)}."
        return text + " The run goes on with this step."
    if gate.outcome == "rejected":
        text = f":no_entry: *Rejected* by {_escape(rejecters)}."
        return text + " The run does not take this step."
    if gate.outcome == "timed_out":
        deadline = _when(gate.opened_at + gate.policy.timeout)
        return (
            f":hourglass: *Timed out*: no decision by {deadline}. Silence never "
            "approves: the run does not take this step."
        )
    return "*Still open*"


def _buttons(notice: GateNotice) -> dict[str, Any]:
    try:
        value = action_value(notice)
    except ValueError:
        return _section(
            "The run's identifiers are too long for chat buttons: vote from the "
            "command line or the Temporal web UI."
        )
    gate = notice.gate
    what = _clip(_escape(gate.what), 250)
    approve = _button("Approve", APPROVE_ACTION, value, "primary")
    approve["confirm"] = _confirm(f"Approve {gate.name}?", what, "Approve")
    reject = _button("Reject", REJECT_ACTION, value, "danger")
    reject["confirm"] = _confirm(
        f"Reject {gate.name}?", "The run will not take this step.", "Reject"
    )
    return {"type": "actions", "elements": [approve, reject]}


def _button(label: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": _plain(label),
        "style": style,
        "value": value,
    }


def _confirm(title: str, text: str, confirm: str) -> dict[str, Any]:
    return {
        "title": _plain(_clip(title, 100)),
        "text": _mrkdwn(_clip(text, 300)),
        "confirm": _plain(confirm),
        "deny": _plain("Cancel"),
    }


def _context(notice: GateNotice, link: str | None) -> dict[str, Any]:
    parts = [f"odoo-dr · run {_code(notice.run_id)}"]
    if link:
        parts.append(f"<{link}|Open the run in the Temporal web UI>")
    return {"type": "context", "elements": [_mrkdwn(part) for part in parts]}


def _audience(audience: Sequence[str], people: Sequence[Approver]) -> str:
    """Roles and person ids, with the Slack mention of each person named."""
    names = []
    for item in audience:
        person = next((p for p in people if p.id == item), None)
        if person is not None:
            names.append(_mention(person))
            continue
        holders = ", ".join(_mention(p) for p in people if item in p.roles)
        names.append(f"{_escape(item)} ({holders})" if holders else _escape(item))
    return ", ".join(names) or "nobody"


def _mention(person: Approver) -> str:
    if person.slack_user:
        return f"<@{_escape(person.slack_user)}>"
    return _escape(person.name or person.id)


def _when(moment: datetime) -> str:
    """A time Slack shows in each reader's time zone, with a UTC fallback."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
    )


def _bullets(items: Sequence[str]) -> str:
    if not items:
        return "none yet"
    return "\n".join(f"• {_escape(item)}" for item in items)


def _escape(text: str) -> str:
    """Text made safe for Slack's mrkdwn (``&``, ``<``, ``>`` are control)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    quoted = _escape(text).replace("`", "'")
    return f"`{quoted}`"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(_clip(text, 150))}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_clip(text, _SECTION_LIMIT))}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def run_message(notice: RunNotice, link: str | None = None) -> ChatMessage:
    """The message that says how a run ended, with what a person must know."""
    headline = f"{notice.runbook} on {notice.environment}: {notice.verdict.upper()}"
    lines = [notice.summary, *(f"• {_escape(fact)}" for fact in notice.facts)]
    blocks = [_header(_clip(headline, 150)), _section("\n".join(lines))]
    run = f"run `{_escape(notice.workflow_id)}`"
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(f"{run} · <{link}|open in Temporal>" if link else run)
            ],
        }
    )
    return ChatMessage(text=headline, blocks=blocks)


# The paging webhook and the link to the run.


def paging_payload(notice: GateNotice, *, link: str | None = None) -> dict[str, Any]:
    """The JSON a paging tool's generic webhook receives about a gate."""
    return {
        "event": notice.event,
        "environment": notice.environment,
        "runbook": notice.runbook,
        "workflow_id": notice.workflow_id,
        "run_id": notice.run_id,
        "gate": notice.gate.name,
        "request_id": notice.gate.request_id,
        "what": notice.gate.what,
        "audience": list(notice.audience),
        "outcome": notice.gate.outcome,
        "link": link,
    }


def run_url(
    ui: str | None, namespace: str, workflow_id: str, run_id: str
) -> str | None:
    """The page of one run's history in the Temporal web UI, if the UI is known."""
    if not ui:
        return None
    ns, wf, run = (quote(part, safe="") for part in (namespace, workflow_id, run_id))
    return f"{ui.rstrip('/')}/namespaces/{ns}/workflows/{wf}/{run}/history"


# Delivery. Each sender runs in a thread, takes its destination's resolved
# secret first, and raises ApplicationError with a message free of secrets.


def _post_webhook(url: str, message: ChatMessage) -> None:
    """Post ``message`` to a Slack incoming webhook (which answers "ok")."""
    client = WebhookClient(
        url, timeout=HTTP_TIMEOUT_SECONDS, logger=_SLACK_SDK_LOG, retry_handlers=[]
    )
    try:
        response = client.send(text=message.text, blocks=message.blocks)
    except (OSError, HTTPException, SlackClientError) as exc:
        raise _unreachable("the Slack incoming webhook", exc) from None
    if response.status_code != 200:
        raise _http_refusal(
            "the Slack incoming webhook",
            response.status_code,
            response.body,
            response.headers,
            hint="check chat.webhook_url: Slack revokes a webhook when its app "
            "or channel is removed",
        )


def _post_chat_message(
    token: str, message: ChatMessage, *, channel: str, api_url: str | None
) -> None:
    """Post ``message`` to ``channel`` with the Web API's chat.postMessage."""
    client = WebClient(
        token=token,
        base_url=api_url or SLACK_API_URL,
        timeout=HTTP_TIMEOUT_SECONDS,
        logger=_SLACK_SDK_LOG,
        retry_handlers=[],
    )
    try:
        client.chat_postMessage(
            channel=channel, text=message.text, blocks=message.blocks
        )
    except SlackApiError as exc:
        raise _api_refusal(channel, exc) from None
    except (OSError, HTTPException, SlackClientError) as exc:
        raise _unreachable("the Slack Web API", exc) from None


def _post_page(url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` as JSON to a paging tool's webhook; any 2xx will do."""
    request = Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "odoo-dr"},
        method="POST",
    )
    try:
        with urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            response.read()
    except HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise _http_refusal(
            "the paging webhook",
            exc.code,
            body,
            dict(exc.headers.items()),
            hint="check chat.paging_webhook_url and the paging tool's settings",
        ) from None
    except (OSError, HTTPException) as exc:
        raise _unreachable("the paging webhook", exc) from None


def _unreachable(where: str, exc: BaseException) -> ApplicationError:
    """A transport failure, described by its reason only: never the address."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, OSError) and reason.strerror:
        detail = reason.strerror
    else:
        detail = type(reason).__name__
    return ApplicationError(
        f"{where} could not be reached: {detail}", type=NOT_DELIVERED
    )


def _http_refusal(
    where: str,
    status: int,
    body: str,
    headers: Mapping[str, Any] | None,
    *,
    hint: str,
) -> ApplicationError:
    """An HTTP error answer: retryable unless the request itself was refused."""
    message = f"{where} answered HTTP {status}: {_clip(body.strip(), 200) or '-'}"
    if status in (408, 425, 429) or status >= 500:
        return ApplicationError(
            message, type=NOT_DELIVERED, next_retry_delay=_retry_after(headers)
        )
    return ApplicationError(
        f"{message}; {hint}", type=PRECONDITION_FAILED, non_retryable=True
    )


def _api_refusal(channel: str, exc: SlackApiError) -> ApplicationError:
    """A Web API answer with ``"ok": false``, or not JSON, or not HTTP 200."""
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or "no error code")
    where = f"the Slack Web API (chat.postMessage to {channel})"
    message = f"{where} answered HTTP {response.status_code}: {_clip(error, 200)}"
    if response.status_code == 200 and error in _PERMANENT_API_ERRORS:
        return ApplicationError(
            f"{message}; check chat.bot_token, the app's scopes (chat:write) "
            f"and that the bot is a member of {channel}",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    return ApplicationError(
        message, type=NOT_DELIVERED, next_retry_delay=_retry_after(response.headers)
    )


def _retry_after(headers: Mapping[str, Any] | None) -> timedelta | None:
    """Slack's (or the paging tool's) ``Retry-After``, in seconds, if given."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return timedelta(seconds=int(str(value))) if value is not None else None
    except ValueError:
        return None


def _scrub(error: ApplicationError, secrets: Sequence[str]) -> ApplicationError:
    """``error`` without any of ``secrets`` (nor a secret URL's path) in it.

    An error page (a proxy's, say) may quote the address it was asked for.
    """
    pieces = []
    for secret in secrets:
        pieces.append(secret)
        path = urlsplit(secret).path if "://" in secret else ""
        if len(path) > 8:
            pieces.append(path)
    message = error.message
    for piece in sorted(pieces, key=len, reverse=True):
        message = message.replace(piece, "[secret]")
    if message == error.message:
        return error
    return ApplicationError(
        message,
        type=error.type,
        non_retryable=error.non_retryable,
        next_retry_delay=error.next_retry_delay,
    )


def _known_secrets(chat: ChatSettings) -> list[str]:
    """The values of the chat settings' secrets that resolve, to scrub errors."""
    refs = [
        chat.webhook_url,
        chat.bot_token,
        chat.paging_webhook_url,
        chat.signing_secret,
        chat.bridge_private_key,
    ]
    values = []
    for ref in refs:
        if ref is not None:
            try:
                values.append(resolve_secret(ref))
            except SecretError:
                continue
    return [value for value in values if value]


@dataclass(frozen=True)
class _Destination:
    """Where a notice goes: the secret that opens it, and the sender."""

    key: str
    label: str
    field: str
    secret: SecretRef
    send: Callable[[str], None]


def _destinations(
    chat: ChatSettings, message: ChatMessage, page: dict[str, Any]
) -> list[_Destination]:
    """The chat channel (Web API when a bot token is set) and the pager."""
    found = []
    if chat.bot_token is not None:
        send = partial(
            _post_chat_message,
            message=message,
            channel=chat.channel,
            api_url=chat.api_url,
        )
        label = f"Slack channel {chat.channel} (Web API)"
        found.append(_Destination("chat", label, "bot_token", chat.bot_token, send))
    elif chat.webhook_url is not None:
        label = f"Slack channel {chat.channel} (incoming webhook)"
        send = partial(_post_webhook, message=message)
        found.append(_Destination("chat", label, "webhook_url", chat.webhook_url, send))
    if chat.paging_webhook_url is not None:
        secret = chat.paging_webhook_url
        send = partial(_post_page, payload=page)
        found.append(
            _Destination(
                "paging", "the paging webhook", "paging_webhook_url", secret, send
            )
        )
    return found


async def _deliver(destination: _Destination, environment: str) -> None:
    """Resolve the destination's secret and send.

    Raises:
        ApplicationError: non-retryable when the secret does not resolve.
    """
    ref = destination.secret
    try:
        secret = resolve_secret(ref)
    except SecretError as exc:
        raise ApplicationError(
            f"environment {environment}: chat.{destination.field} {ref.describe()} "
            f"does not resolve ({exc}); provide it where the worker runs",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        ) from None
    await asyncio.to_thread(destination.send, secret)


def _delivered_before() -> list[str]:
    """The destinations an earlier attempt delivered to (heartbeat details)."""
    details = activity.info().heartbeat_details
    if details and isinstance(details[0], list):
        return [str(key) for key in details[0]]
    return []


def _failure(failures: list[ApplicationError]) -> ApplicationError:
    """One error for every destination that failed; retryable if any is."""
    if len(failures) == 1:
        return failures[0]
    message = "; ".join(failure.message for failure in failures)
    retryable = [f for f in failures if not f.non_retryable]
    if not retryable:
        return ApplicationError(message, type=PRECONDITION_FAILED, non_retryable=True)
    delays = [f.next_retry_delay for f in retryable if f.next_retry_delay]
    return ApplicationError(
        message, type=NOT_DELIVERED, next_retry_delay=max(delays, default=None)
    )


async def _deliver_all(
    environment: str,
    what: str,
    chat: ChatSettings,
    destinations: list[_Destination],
) -> None:
    """Send to each destination not reached before; then raise what failed.

    ``what`` names the notice in logs ("gate promote opened").

    Raises:
        ApplicationError: what failed, with every secret of ``chat`` scrubbed.
    """
    delivered = _delivered_before()
    failures = []
    for destination in destinations:
        if destination.key in delivered:
            continue
        try:
            await _deliver(destination, environment)
        except ApplicationError as exc:
            failure = _scrub(exc, _known_secrets(chat))
            activity.logger.warning(
                "%s: notice not delivered to %s: %s",
                what,
                destination.label,
                failure.message,
            )
            failures.append(failure)
            continue
        delivered.append(destination.key)
        activity.heartbeat(list(delivered))
        activity.logger.info("%s: notice delivered to %s", what, destination.label)
    if failures:
        raise _failure(failures)


def _policy(rule: GateRule) -> GatePolicy:
    return GatePolicy(
        roles=list(rule.roles),
        quorum=rule.quorum,
        distinct_roles=rule.distinct_roles,
        two_person=rule.two_person,
        timeout=rule.timeout,
        escalation=[
            Escalation(after=step.after, notify=list(step.notify))
            for step in rule.escalation
        ],
        signed=rule.signed,
    )


def _integration_policies(env: Environment) -> dict[str, GatePolicy]:
    """A gate ``reconnect_<name>`` per integration with an owner: theirs alone."""
    owners = {p.id: p for p in env.approvals.people}
    return {
        f"reconnect_{item.name}": GatePolicy(
            roles=list(owners[item.owner].roles),
            people=[item.owner],
            two_person=False,
            timeout=item.confirm_within,
        )
        for item in env.integrations
        if item.owner in owners
    }


class ChatActivities:
    """The people side of runbooks, bound to the worker's inventory."""

    def __init__(self, inventory: Inventory, *, temporal_ui: str | None = None) -> None:
        """Bind the activities to the inventory the worker loaded.

        ``temporal_ui`` is the Temporal web UI's base address, for a link to
        the run in each message; by default ``ODOO_DR_TEMPORAL_UI``, and
        without either the messages carry no link.
        """
        self._inventory = inventory
        self._temporal_ui = temporal_ui or os.environ.get("ODOO_DR_TEMPORAL_UI")

    @activity.defn
    async def approval_plan(self, environment: str) -> ApprovalPlan:
        """The environment's approvers and gate rules, with public keys only.

        Reads the inventory; changes nothing; retrying is safe. No secret is
        in the plan: people, roles, Slack user ids and public keys.
        """
        env = self._inventory.environment(environment)
        settings = env.approvals
        gates = {name: _policy(rule) for name, rule in settings.gates.items()}
        gates.update(_integration_policies(env))
        return ApprovalPlan(
            people=[
                Person(
                    id=p.id,
                    name=p.name,
                    roles=list(p.roles),
                    slack_user=p.slack_user,
                    public_key=p.public_key,
                )
                for p in settings.people
            ],
            gates=gates,
            default=_policy(settings.default) if settings.default else None,
            bridge_public_key=settings.bridge_public_key,
        )

    @activity.defn
    async def notify_gate(self, notice: GateNotice) -> None:
        """Tell the environment's chat channel, and its pager, about a gate.

        Posts a Slack message (through the Web API when a bot token is
        configured, else through the incoming webhook) and, when configured,
        JSON to the paging webhook. Changes nothing in the run: a repeated
        post is a duplicate notice, never a vote, and the destinations an
        attempt reached are kept in its heartbeat details so that a retry
        skips them. Without chat settings in the inventory, only logs.

        Raises:
            ApplicationError: a destination was unreachable or answered an
                error (retryable, ``NoticeNotDelivered``); a secret does not
                resolve, or Slack or the pager refused the request itself
                (non-retryable, ``PreconditionFailed``). No message names a
                secret.
        """
        env = self._inventory.environment(notice.environment)
        activity.logger.info(
            "gate %s of %s %s; notifying %s",
            notice.gate.name,
            notice.workflow_id,
            notice.event,
            ", ".join(notice.audience),
        )
        if env.chat is None:
            return
        info = activity.info()
        link = run_url(
            self._temporal_ui,
            info.namespace,
            notice.workflow_id,
            notice.run_id,
        )
        message = gate_message(notice, people=env.approvals.people, link=link)
        destinations = _destinations(
            env.chat, message, paging_payload(notice, link=link)
        )
        if not destinations:
            activity.logger.info(
                "environment %s: chat settings name no webhook, bot token or "
                "paging webhook; notice only logged",
                env.name,
            )
        what = f"gate {notice.gate.name} {notice.event}"
        await _deliver_all(notice.environment, what, env.chat, destinations)

    @activity.defn
    async def notify_run(self, notice: RunNotice) -> None:
        """Tell the environment's chat channel (and pager) how a run ended.

        Sent when a runbook fails or is aborted, as a drill's failure must
        not wait for someone to look. Retrying is safe for the reasons of
        :meth:`notify_gate` (destinations reached are skipped); it gives up
        as that does. Without chat settings in the inventory, only logs.
        """
        env = self._inventory.environment(notice.environment)
        activity.logger.info(
            "%s %s ended %s", notice.runbook, notice.workflow_id, notice.verdict
        )
        if env.chat is None:
            return
        link = run_url(
            self._temporal_ui,
            activity.info().namespace,
            notice.workflow_id,
            notice.run_id,
        )
        page = {**notice.model_dump(mode="json"), "event": "run_ended", "link": link}
        destinations = _destinations(env.chat, run_message(notice, link), page)
        what = f"{notice.runbook} {notice.workflow_id} {notice.verdict}"
        await _deliver_all(notice.environment, what, env.chat, destinations)
