"""A test double of Odoo's HTTP endpoints. It is not Odoo.

It answers, on 127.0.0.1 and a free port, the few requests odoo-dr's
application probes send, with Odoo 17's wire format:

- ``GET /web/health``: ``{"status": "pass"}`` as JSON;
- ``POST /xmlrpc/2/common``: ``version()``, ``login(db, login, password)``
  and ``authenticate(db, login, password, user_agent_env)``, the last two
  answering a uid or ``False``;
- ``POST /xmlrpc/2/object``: ``execute_kw(db, uid, password, model, method,
  args, kwargs)`` for ``res.partner`` ``create``, ``read``, ``unlink`` and
  ``search_read``, with records kept in memory.

Faults have the shape Odoo's ``/xmlrpc/2`` gives them: the message in
``faultCode`` ("AccessDenied", "warning -- AccessError" and the message),
the traceback (here empty) in ``faultString``. Knobs on the instance make it
misbehave: ``health_status``, ``version``, ``refuse_unlink``, ``delay``.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCDispatcher

from tests.doubles.loopback import LoopbackDouble, LoopbackServer

Record = dict[str, Any]


class OdooHttpDouble(LoopbackDouble):
    """Odoo's health and XML-RPC endpoints for one database and one user."""

    thread_name = "odoo-http-double"

    def __init__(
        self,
        *,
        database: str = "odoo",
        login: str = "odoo-dr-validation",
        password: str = "validation-secret",
        version: str = "17.0",
    ) -> None:
        self.database = database
        self.version = version
        self.health_status = 200
        self.refuse_unlink = False
        self.delay = 0.0
        self.partners: dict[int, Record] = {}
        self.calls: list[str] = []
        self._users = {login: (password, 2)}
        self._ids = itertools.count(100)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.common = self._dispatcher(
            version=self._version, login=self._login, authenticate=self._authenticate
        )
        self.object = self._dispatcher(execute_kw=self._execute_kw)

    def stop(self) -> None:
        """Stop serving; requests held by ``delay`` are let go at once."""
        self._stopping.set()
        super().stop()

    def hold(self) -> None:
        """Wait ``delay`` seconds before answering (the slow-server knob)."""
        if self.delay:
            self._stopping.wait(self.delay)

    def _dispatcher(self, **methods: Any) -> SimpleXMLRPCDispatcher:
        dispatcher = SimpleXMLRPCDispatcher(allow_none=True, encoding=None)
        for name, function in methods.items():
            dispatcher.register_function(function, name)
        return dispatcher

    # common

    def _version(self) -> dict[str, Any]:
        self.calls.append("common.version")
        major, minor = (int(part) for part in re.findall(r"\d+", self.version)[:2])
        return {
            "server_version": self.version,
            "server_version_info": [major, minor, 0, "final", 0, ""],
            "server_serie": f"{major}.{minor}",
            "protocol_version": 1,
        }

    def _login(self, db: str, login: str, password: str) -> int | bool:
        self.calls.append("common.login")
        return self._uid(db, login, password)

    def _authenticate(
        self, db: str, login: str, password: str, user_agent_env: dict[str, Any]
    ) -> int | bool:
        self.calls.append("common.authenticate")
        return self._uid(db, login, password)

    def _uid(self, db: str, login: str, password: str) -> int | bool:
        self._check_database(db)
        known = self._users.get(login)
        return known[1] if known and known[0] == password else False

    def _check_database(self, db: str) -> None:
        if db != self.database:
            raise _fault(f'database "{db}" does not exist', "")

    # object

    def _execute_kw(
        self,
        db: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self._check_database(db)
        if (password, uid) not in self._users.values():
            raise _fault("AccessDenied", "Access Denied")
        if model != "res.partner":
            raise _fault(f"Object {model} doesn't exist", "")
        handler = getattr(self, f"_partner_{method}", None)
        if handler is None:
            raise _fault(f"The method '{method}' does not exist on the model", "")
        self.calls.append(f"{model}.{method}")
        with self._lock:
            return handler(*args, **(kwargs or {}))

    def _partner_create(
        self, values: Record | list[Record], context: dict[str, Any] | None = None
    ) -> int | list[int]:
        if isinstance(values, dict):
            return self._new_partner(values)
        return [self._new_partner(entry) for entry in values]

    def _new_partner(self, values: Record) -> int:
        record_id = next(self._ids)
        self.partners[record_id] = {"active": True, **values, "id": record_id}
        return record_id

    def _partner_read(
        self, ids: list[int], fields: list[str] | None = None, **_: Any
    ) -> list[Record]:
        missing = [record_id for record_id in ids if record_id not in self.partners]
        if missing:
            raise _fault(
                "warning -- MissingError\n\nRecord does not exist or has been "
                f"deleted.\n(Record: res.partner({missing[0]},), User: 2)",
                "",
            )
        return [self._fields(self.partners[record_id], fields) for record_id in ids]

    def _partner_unlink(self, ids: list[int]) -> bool:
        if self.refuse_unlink:
            raise _fault(
                "warning -- AccessError\n\nYou are not allowed to delete "
                "'Contact' (res.partner) records.",
                "",
            )
        for record_id in ids:
            self.partners.pop(record_id, None)
        return True

    def _partner_search_read(
        self,
        domain: list[list[Any]] | None = None,
        fields: list[str] | None = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> list[Record]:
        terms = domain or []
        # Odoo hides archived records unless the domain or context asks.
        if all(term[0] != "active" for term in terms) and (context or {}).get(
            "active_test", True
        ):
            terms = [*terms, ["active", "=", True]]
        return [
            self._fields(record, fields)
            for record in self.partners.values()
            if all(_matches(record, term) for term in terms)
        ]

    @staticmethod
    def _fields(record: Record, fields: list[str] | None) -> Record:
        if not fields:
            return dict(record)
        return {
            "id": record["id"],
            **{name: record.get(name, False) for name in fields},
        }


def _fault(message: str, traceback: str) -> Fault:
    """A fault as Odoo's /xmlrpc/2 raises it: the message in ``faultCode``."""
    # typeshed expects an int code; Odoo's string endpoints send a string.
    return Fault(message, traceback)  # type: ignore[arg-type]


def _matches(record: Record, term: list[Any]) -> bool:
    name, operator, value = term
    found = record.get(name, False)
    if operator == "=":
        return bool(found == value)
    if operator == "!=":
        return bool(found != value)
    if operator == "in":
        return found in value
    if operator == "=like":
        prefix = str(value).removesuffix("%")
        return isinstance(found, str) and found.startswith(prefix)
    raise _fault(f"Invalid domain operator {operator!r} (only in this double)", "")


class _Handler(BaseHTTPRequestHandler):
    server_version = "Werkzeug/3.0.1"

    @property
    def double(self) -> OdooHttpDouble:
        return cast(LoopbackServer, self.server).double

    def do_GET(self) -> None:
        self.double.hold()
        if self.path.split("?")[0] != "/web/health":
            self._answer(404, "text/html", b"<h1>Not Found</h1>")
            return
        status = self.double.health_status
        body = {"status": "pass"} if status == 200 else {"status": "fail"}
        self._answer(status, "application/json", json.dumps(body).encode())

    def do_POST(self) -> None:
        self.double.hold()
        services = {"/xmlrpc/2/common": self.double.common}
        services["/xmlrpc/2/object"] = self.double.object
        dispatcher = services.get(self.path)
        if dispatcher is None:
            self._answer(404, "text/html", b"<h1>Not Found</h1>")
            return
        length = int(self.headers.get("Content-Length") or 0)
        response = dispatcher._marshaled_dispatch(self.rfile.read(length))
        body = response if isinstance(response, bytes) else response.encode()
        self._answer(200, "text/xml; charset=utf-8", body)

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean: no access log."""


OdooHttpDouble.handler = _Handler  # defined after the double it serves
