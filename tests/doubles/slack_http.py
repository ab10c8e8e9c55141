"""A test double of Slack's message endpoints and of a paging webhook.

It is not Slack. It answers, on 127.0.0.1 and a free port, what odoo-dr's
notices are sent to, with Slack's wire format:

- an incoming webhook (``POST /services/T.../B.../secret``): a JSON body with
  ``text`` and/or ``blocks``, answered ``200 ok`` as ``text/html``; a wrong
  path gets ``404 no_service``, a body that is not JSON ``400
  invalid_payload``, one without text or blocks ``400 no_text``;
- the Web API's ``POST /api/chat.postMessage``, with ``Authorization: Bearer
  <token>`` and a JSON or form body, answered ``{"ok": true, "channel": <id>,
  "ts": ..., "message": ...}``; a missing token gets ``not_authed``, a wrong
  one ``invalid_auth``, no channel ``channel_not_found`` (HTTP 200 with
  ``"ok": false``, as Slack does);
- a generic paging webhook (``POST /page``) taking any JSON, answered 202;
- the ``response_url`` of an interaction (``POST /actions/T.../...``): a
  JSON body with ``text``, answered ``200 ok``.

Every request is recorded (also the refused ones). Knobs on the instance
make it fail: ``fail_webhook`` and ``fail_paging`` (an HTTP status, with
``failure_body``), ``api_error`` (``{"ok": false, "error": ...}``),
``api_status`` (an HTTP status other than 200 with a non-JSON error page),
and ``retry_after`` (sent with any 429).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs

from tests.doubles.loopback import LoopbackDouble, LoopbackServer


@dataclass
class Received:
    """One request the double received (header names in lower case)."""

    kind: str  # "webhook", "api", "paging" or "unknown"
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON (a Web API form body as a dict of its fields)."""
        content_type = self.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(self.body.decode())
            return {key: values[-1] for key, values in form.items()}
        return json.loads(self.body)


class SlackHttpDouble(LoopbackDouble):
    """Slack's incoming webhook and chat.postMessage, and a paging receiver."""

    thread_name = "slack-http-double"

    WEBHOOK_PATH = "/services/T0DOUBLE1/B0DOUBLE1/"
    API_PREFIX = "/api/"
    PAGING_PATH = "/page"
    RESPONSE_PATH = "/actions/T0DOUBLE1/"

    def __init__(
        self,
        *,
        token: str = "xoxb-1111-2222-double0token",
        webhook_secret: str = "d0ubleW3bh00kS3cretPart",
    ) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.fail_webhook: int | None = None
        self.fail_paging: int | None = None
        self.failure_body = "rollup_error"
        self.api_error: str | None = None
        self.api_status = 200
        self.retry_after: int | None = None
        self.requests: list[Received] = []
        self.channel_ids: dict[str, str] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()

    # Addresses.

    @property
    def webhook_url(self) -> str:
        """The incoming webhook's URL (its last part is the secret)."""
        return f"{self.base_url}{self.WEBHOOK_PATH}{self.webhook_secret}"

    @property
    def api_url(self) -> str:
        """The Web API's base URL, as slack_sdk's ``base_url`` takes it."""
        return f"{self.base_url}{self.API_PREFIX}"

    @property
    def paging_url(self) -> str:
        """The paging webhook's URL."""
        return f"{self.base_url}{self.PAGING_PATH}"

    # What was received.

    def of_kind(self, kind: str) -> list[Received]:
        """The requests of one kind, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    @property
    def webhook_messages(self) -> list[dict[str, Any]]:
        """The messages the webhook accepted."""
        return [r.json() for r in self.of_kind("webhook") if r.answered == 200]

    @property
    def api_messages(self) -> list[Received]:
        """The chat.postMessage calls the Web API accepted."""
        return [r for r in self.of_kind("api") if r.extra.get("ok")]

    @property
    def pages(self) -> list[dict[str, Any]]:
        """The notices the paging webhook accepted."""
        return [r.json() for r in self.of_kind("paging") if r.answered < 300]

    # Life cycle.

    # Answers: (status, content type, body, extra headers).

    def answer(self, received: Received) -> tuple[int, str, bytes, dict[str, str]]:
        """What Slack (or the pager) would answer, recording the request."""
        if received.path.startswith(self.WEBHOOK_PATH):
            received.kind = "webhook"
            answer = self._webhook(received)
        elif received.path == f"{self.API_PREFIX}chat.postMessage":
            received.kind = "api"
            answer = self._post_message(received)
        elif received.path == self.PAGING_PATH:
            received.kind = "paging"
            answer = self._page(received)
        elif received.path.startswith(self.RESPONSE_PATH):
            received.kind = "response"
            answer = self._response(received)
        else:
            answer = _text(404, "no_service")
        received.answered = answer[0]
        with self._lock:
            self.requests.append(received)
        return answer

    def _webhook(self, received: Received) -> tuple[int, str, bytes, dict[str, str]]:
        if received.path != f"{self.WEBHOOK_PATH}{self.webhook_secret}":
            return _text(404, "no_service")
        if self.fail_webhook is not None:
            return self._failure(self.fail_webhook)
        try:
            body = json.loads(received.body)
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return _text(400, "no_text")
        return _text(200, "ok")

    def _post_message(
        self, received: Received
    ) -> tuple[int, str, bytes, dict[str, str]]:
        if self.api_status != 200:
            return self._failure(self.api_status)
        auth = received.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _api(received, {"ok": False, "error": "not_authed"})
        if auth.removeprefix("Bearer ") != self.token:
            return _api(received, {"ok": False, "error": "invalid_auth"})
        if self.api_error is not None:
            return _api(received, {"ok": False, "error": self.api_error})
        body = received.json()
        channel = body.get("channel")
        if not channel:
            return _api(received, {"ok": False, "error": "channel_not_found"})
        channel_id = self.channel_ids.setdefault(
            channel, f"C0DOUBLE{len(self.channel_ids) + 1:02d}"
        )
        ts = f"1765000000.{next(self._ts):06d}"
        message = {"type": "message", "text": body.get("text", ""), "ts": ts}
        if "blocks" in body:
            message["blocks"] = body["blocks"]
        answer = {"ok": True, "channel": channel_id, "ts": ts, "message": message}
        return _api(received, answer)

    def response_url(self, key: str) -> str:
        """A response_url as Slack puts in an interaction's payload."""
        return f"{self.base_url}{self.RESPONSE_PATH}{key}"

    @property
    def responses(self) -> list[dict[str, Any]]:
        """The messages posted to response URLs, each with its ``url``."""
        return [
            {**r.json(), "url": f"{self.base_url}{r.path}"}
            for r in self.of_kind("response")
            if r.answered == 200
        ]

    def _response(self, received: Received) -> tuple[int, str, bytes, dict[str, str]]:
        try:
            body = json.loads(received.body)
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(body, dict) or not body.get("text"):
            return _text(400, "no_text")
        return _text(200, "ok")

    def _page(self, received: Received) -> tuple[int, str, bytes, dict[str, str]]:
        if self.fail_paging is not None:
            return self._failure(self.fail_paging)
        try:
            json.loads(received.body)
        except ValueError:
            return _text(400, "not JSON")
        return (202, "application/json", b'{"status": "accepted"}', {})

    def _failure(self, status: int) -> tuple[int, str, bytes, dict[str, str]]:
        headers = {}
        if status == 429 and self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return (status, "text/html", self.failure_body.encode(), headers)


def _text(status: int, body: str) -> tuple[int, str, bytes, dict[str, str]]:
    return (status, "text/html", body.encode(), {})


def _api(
    received: Received, answer: dict[str, Any]
) -> tuple[int, str, bytes, dict[str, str]]:
    received.extra = answer
    return (200, "application/json; charset=utf-8", json.dumps(answer).encode(), {})


class _Handler(BaseHTTPRequestHandler):
    server_version = "double"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            kind="unknown",
            method="POST",
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length),
        )
        double = cast(LoopbackServer, self.server).double
        status, content_type, body, headers = double.answer(received)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean: no access log."""


SlackHttpDouble.handler = _Handler  # defined after the double it serves
