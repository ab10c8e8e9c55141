"""Application probes: does the recovered Odoo answer, and can people use it?

The catalogue of checks reads Odoo's tables; these probes go through the
front door, the way users and integrations do. Four probes, area
``application``:

- ``application.health``: ``GET /web/health`` answers ``{"status": "pass"}``
  (Odoo 15 and later);
- ``application.version``: XML-RPC ``common.version()`` answers with the
  major release the inventory names;
- ``application.login``: ``common.authenticate`` lets a dedicated validation
  user in;
- ``application.canary``: optional; an archived contact is created, read back
  and deleted through ``object.execute_kw``.

Everything is standard library (``urllib.request``, ``xmlrpc.client`` with a
transport that honours a timeout) run in a thread. Nothing here raises for
what it finds: connection refused, timeouts, HTTP errors and XML-RPC faults
become failed results. The validation user's password is used for the calls
and nothing else: every text that comes back from Odoo or from the network
is scrubbed of it before it enters a result or a log line.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import re
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
import xml.parsers.expat
import xmlrpc.client
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from odoo_dr.errors import SecretError
from odoo_dr.inventory import OdooApp
from odoo_dr.secrets import resolve_secret
from odoo_dr.validation import EXAMPLES, CheckResult, CheckVerdict, Figure

logger = logging.getLogger(__name__)

AREA = "application"

# The canary is an archived contact: res.partner exists in every Odoo (base),
# creating one posts no journal entry, sends no mail and takes no sequence
# number, and an archived contact shows in no list, search or autocomplete.
# ``ref`` (a plain Char field) carries a token, so the record read back can be
# compared exactly; ``comment`` would come back rewritten as HTML.
CANARY_MODEL = "res.partner"
CANARY_PREFIX = "odoo-dr canary"
# No chatter message, no follower, no tracking for the canary's short life.
QUIET = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
    "mail_notrack": True,
}

_FAULT_TEXT = 240

NO_URL = "no Odoo URL is configured for this target, so Odoo was not probed"
NO_URL_HINT = (
    "set odoo.url (or odoo.base_urls for the region) in the inventory to probe "
    "the application; the sandbox has no Odoo"
)

# execute_kw bound to one database, user and model: (method, args, **kwargs).
Execute = Callable[..., Any]


@dataclass(frozen=True)
class _Probe:
    name: str
    critical: bool


# A server that fails /web/health or refuses the validation user's login is no
# service, whatever its database holds: both block the runbook step.
HEALTH = _Probe("application.health", critical=True)
# Another major release on this database means the wrong image was deployed;
# started with an update it would migrate the recovered data one way.
VERSION = _Probe("application.version", critical=True)
LOGIN = _Probe("application.login", critical=True)
# The canary writes into the recovered database: useful evidence that it is
# writable, but a refusal (rights, a module's constraint) does not make the
# service unusable, and a leftover archived contact harms nobody.
CANARY = _Probe("application.canary", critical=False)
PROBES = (HEALTH, VERSION, LOGIN, CANARY)


@dataclass
class _Odoo:
    """One Odoo server as the probes reach it, and how results name it."""

    url: str
    database: str
    where: str
    timeout: float
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    secret_problem: str | None = None

    def rpc(self, service: str) -> xmlrpc.client.ServerProxy:
        """A proxy for ``/xmlrpc/2/<service>`` that gives up after the timeout."""
        endpoint = f"{self.url}/xmlrpc/2/{service}"
        transport: xmlrpc.client.Transport
        if endpoint.startswith("https:"):
            transport = _TimedSafeTransport(self.timeout)
        else:
            transport = _TimedTransport(self.timeout)
        return xmlrpc.client.ServerProxy(endpoint, transport=transport)

    def scrub(self, text: str) -> str:
        """``text`` without the password in it."""
        if self.password:
            return text.replace(self.password, "***")
        return text

    def result(
        self,
        probe: _Probe,
        verdict: CheckVerdict,
        summary: str,
        *,
        started: float | None = None,
        found: Mapping[str, Figure] | None = None,
        expected: Mapping[str, Figure] | None = None,
        examples: Sequence[str] = (),
        hint: str = "",
    ) -> CheckResult:
        """A result of ``probe``, every text in it scrubbed of the password."""
        return CheckResult(
            name=probe.name,
            area=AREA,
            verdict=verdict,
            critical=probe.critical,
            summary=self.scrub(summary),
            found={key: self._figure(value) for key, value in (found or {}).items()},
            expected=dict(expected or {}),
            examples=[self.scrub(text) for text in examples][:EXAMPLES],
            hint=self.scrub(hint),
            seconds=round(time.monotonic() - started, 3) if started else 0.0,
        )

    def failed(
        self, probe: _Probe, what: str, exc: BaseException, started: float
    ) -> CheckResult:
        """A failed result for ``exc`` met while ``what``."""
        problem, hint = _describe_error(exc, self.timeout)
        return self.result(
            probe,
            "fail",
            f"{what}: {self.where} {problem}",
            started=started,
            found={"reachable": not _is_unreachable(exc), "error": problem},
            hint=hint,
        )

    def _figure(self, value: Figure) -> Figure:
        return self.scrub(value) if isinstance(value, str) else value


class _TimedTransport(xmlrpc.client.Transport):
    """Plain HTTP for XML-RPC, each socket operation bounded by ``timeout``."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        """The connection of the standard transport, with the timeout set."""
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


class _TimedSafeTransport(xmlrpc.client.SafeTransport):
    """HTTPS for XML-RPC, each socket operation bounded by ``timeout``."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPSConnection:
        """The connection of the standard transport, with the timeout set."""
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


async def probe_application(
    url: str | None,
    *,
    database: str,
    expected_version: str,
    login: str | None,
    password: str | None,
    canary: bool,
    label: str = "",
    timeout: float = 10.0,
) -> list[CheckResult]:
    """Probe the Odoo at ``url``: health, version, login and, if asked, a canary.

    Changes nothing in Odoo unless ``canary`` is true; then it creates one
    archived contact and deletes it again. Running it again after a failure
    or a retry is safe: each canary has its own name. It never raises: an
    unreachable server, an HTTP error or an XML-RPC fault is a failed result.
    When ``/web/health`` cannot be reached at all, the XML-RPC probes are
    skipped rather than each waiting out its own timeout.

    Args:
        url: the address users reach Odoo at, or None where there is no Odoo
            (the sandbox): then every probe is skipped.
        database: the Odoo database to log in to.
        expected_version: the release the inventory names, such as "17.0".
        login: the dedicated validation user, or None to skip the login.
        password: that user's password or API key, already resolved.
        canary: write, read back and delete a canary record after the login.
        label: how results name the target; the URL's host when empty.
        timeout: seconds a connection or a read may wait for Odoo.

    Returns:
        One result per probe, in the order health, version, login, canary.
    """
    if not url:
        return _all_skipped(NO_URL, NO_URL_HINT)
    odoo = _Odoo(
        url=url.rstrip("/"),
        database=database,
        where=label or _display(url),
        timeout=timeout,
        login=login,
        password=password,
    )
    return await _run_probes(odoo, expected_version, canary)


async def probe_odoo_app(
    app: OdooApp,
    *,
    region: str | None = None,
    canary: bool | None = None,
    label: str = "",
    timeout: float = 10.0,
) -> list[CheckResult]:
    """Probe the inventory's Odoo as ``region`` serves it, resolving its secret.

    The validation user's password is resolved here, at the moment of use; a
    reference that does not resolve fails the login probe instead of raising.
    Changes, retries and give-ups are those of :func:`probe_application`.

    Args:
        app: the ``odoo`` section of the environment.
        region: the region serving Odoo (its base URL is used), or None for
            ``odoo.url``.
        canary: write a canary; None follows ``odoo.validation.canary``.
        label: how results name the target.
        timeout: seconds a connection or a read may wait for Odoo.

    Returns:
        One result per probe, as :func:`probe_application` returns them.
    """
    url = app.base_url(region) if region else app.url
    settings = app.validation
    if not url:
        return _all_skipped(NO_URL, NO_URL_HINT)
    odoo = _Odoo(
        url=url.rstrip("/"),
        database=app.database,
        where=label or _display(url),
        timeout=timeout,
        login=settings.login,
    )
    if settings.login and settings.password is not None:
        try:
            odoo.password = resolve_secret(settings.password)
        except SecretError as exc:
            odoo.secret_problem = str(exc)
    wanted = settings.canary if canary is None else canary
    return await _run_probes(odoo, app.version, wanted)


async def _run_probes(
    odoo: _Odoo, expected_version: str, canary: bool
) -> list[CheckResult]:
    if urlsplit(odoo.url).scheme not in ("http", "https"):
        return _all_failed(odoo, f"odoo URL {odoo.where} is not an http(s) address")
    health = await _probe_health(odoo)
    if health.found.get("reachable") is False:
        reason = f"not tried: {odoo.where} could not be reached (application.health)"
        rest = [odoo.result(probe, "skipped", reason) for probe in PROBES[1:]]
        results = [health, *rest]
    else:
        version = await _probe_version(odoo, expected_version)
        login, uid = await _probe_login(odoo)
        results = [health, version, login, await _probe_canary(odoo, uid, canary)]
    for result in results:
        _log(result)
    return results


async def _probe_health(odoo: _Odoo) -> CheckResult:
    """/web/health answers 200 with {"status": "pass"}."""
    started = time.monotonic()
    expected: dict[str, Figure] = {"http_status": 200, "status": "pass"}
    try:
        status, body = await asyncio.to_thread(
            _get, f"{odoo.url}/web/health", odoo.timeout
        )
    except Exception as exc:
        return odoo.failed(HEALTH, "GET /web/health", exc, started)
    found: dict[str, Figure] = {"reachable": True, "http_status": status}
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    found["status"] = answer.get("status") if isinstance(answer, dict) else None
    if found["status"] != "pass":
        return odoo.result(
            HEALTH,
            "fail",
            f"{odoo.where} answers /web/health without status 'pass'",
            started=started,
            found=found,
            expected=expected,
            hint="something other than Odoo 15+ answers at this URL (a proxy's "
            "page, an older Odoo): check odoo.url and the ingress route",
        )
    return odoo.result(
        HEALTH,
        "pass",
        f"{odoo.where} answers /web/health with status pass",
        started=started,
        found=found,
        expected=expected,
    )


def _get(url: str, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "odoo-dr"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read(65536)


async def _probe_version(odoo: _Odoo, expected_version: str) -> CheckResult:
    """XML-RPC version() answers with the inventory's major release."""
    started = time.monotonic()
    try:
        answer = await asyncio.to_thread(_call, odoo, "common", "version")
    except Exception as exc:
        return odoo.failed(VERSION, "XML-RPC version()", exc, started)
    info = answer if isinstance(answer, dict) else {}
    found: dict[str, Figure] = {
        "server_version": _text(info.get("server_version")),
        "server_serie": _text(info.get("server_serie")),
        "major": _major(info),
    }
    expected: dict[str, Figure] = {
        "version": expected_version,
        "major": _leading_major(expected_version),
    }
    if found["major"] is None or found["major"] != expected["major"]:
        return odoo.result(
            VERSION,
            "fail",
            f"{odoo.where} runs Odoo "
            f"{found['server_version'] or 'of an unknown release'}, "
            f"the inventory names {expected_version}",
            started=started,
            found=found,
            expected=expected,
            hint="deploy the image of the release the database belongs to; "
            "never let another major release start on it with an update",
        )
    return odoo.result(
        VERSION,
        "pass",
        f"{odoo.where} runs Odoo {found['server_version']}, as the inventory says",
        started=started,
        found=found,
        expected=expected,
    )


def _major(info: Mapping[str, Any]) -> int | None:
    """The major release of a version() answer: 17 for 17.0 and saas~17.2."""
    version_info = info.get("server_version_info")
    candidates = [version_info[0]] if isinstance(version_info, list) else []
    candidates += [info.get("server_serie"), info.get("server_version")]
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        major = _leading_major(candidate)
        if major is not None:
            return major
    return None


def _leading_major(version: object) -> int | None:
    match = re.match(r"(?:saas~)?(\d+)", version if isinstance(version, str) else "")
    return int(match.group(1)) if match else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _call(odoo: _Odoo, service: str, method: str, *args: Any) -> Any:
    with odoo.rpc(service) as proxy:
        return getattr(proxy, method)(*args)


async def _probe_login(odoo: _Odoo) -> tuple[CheckResult, int | None]:
    """The validation user logs in; returns the result and the uid."""
    started = time.monotonic()
    if odoo.secret_problem:
        return _login_secret_failed(odoo, started), None
    if not odoo.login or not odoo.password:
        return _login_not_configured(odoo), None
    try:
        uid = await asyncio.to_thread(_authenticate, odoo)
    except xmlrpc.client.Fault as fault:
        return _login_fault(odoo, fault, started), None
    except Exception as exc:
        return odoo.failed(LOGIN, "XML-RPC authenticate()", exc, started), None
    if isinstance(uid, bool) or not isinstance(uid, int):
        return _login_refused(odoo, started), None
    return odoo.result(
        LOGIN,
        "pass",
        f"validation user {odoo.login} logs in to {odoo.database} on {odoo.where}",
        started=started,
        found={**_login_figures(odoo), "uid": uid},
    ), uid


def _authenticate(odoo: _Odoo) -> Any:
    # Odoo's common.authenticate(db, login, password, user_agent_env): a uid,
    # or False when the credentials are refused.
    return _call(
        odoo, "common", "authenticate", odoo.database, odoo.login, odoo.password, {}
    )


def _login_figures(odoo: _Odoo) -> dict[str, Figure]:
    return {"login": odoo.login, "database": odoo.database}


def _login_fault(
    odoo: _Odoo, fault: xmlrpc.client.Fault, started: float
) -> CheckResult:
    return odoo.result(
        LOGIN,
        "fail",
        f"{odoo.where} could not authenticate on database {odoo.database}: "
        f"{_fault_text(fault)}",
        started=started,
        found=_login_figures(odoo),
        hint="check that odoo.database names the recovered database and "
        "that Odoo's database filter lets it through",
    )


def _login_refused(odoo: _Odoo, started: float) -> CheckResult:
    return odoo.result(
        LOGIN,
        "fail",
        f"{odoo.where} refused the login of validation user {odoo.login} "
        f"on database {odoo.database}",
        started=started,
        found={**_login_figures(odoo), "uid": False},
        hint="check that the user exists and is active in the recovered "
        "database, and that the secret holds its current password; a restore "
        "to an earlier point brings back the password of that time. For a user "
        "with two-factor authentication, store an API key as the password.",
    )


def _login_not_configured(odoo: _Odoo) -> CheckResult:
    missing = "password" if odoo.login else "login"
    return odoo.result(
        LOGIN,
        "skipped",
        f"no validation {missing} is configured, so nobody's login was tried",
        hint="create a dedicated Odoo user for validation and set "
        "odoo.validation.login and odoo.validation.password (a secret "
        "reference) in the inventory",
    )


def _login_secret_failed(odoo: _Odoo, started: float) -> CheckResult:
    return odoo.result(
        LOGIN,
        "fail",
        f"the validation user's password could not be read: {odoo.secret_problem}",
        started=started,
        found={"login": odoo.login},
        hint="make odoo.validation.password point to a set variable or a "
        "readable file on the worker",
    )


async def _probe_canary(odoo: _Odoo, uid: int | None, wanted: bool) -> CheckResult:
    """A canary contact is created, read back as written, and deleted.

    A worker that dies between the create and the unlink leaves the archived
    contact behind, and nothing yet looks for such leftovers on the next run:
    a person finds them in Contacts by the name prefix "odoo-dr canary".
    """
    if not wanted:
        return odoo.result(
            CANARY,
            "skipped",
            "canary writes are off for this target",
            hint="set odoo.validation.canary to prove the database takes writes",
        )
    if uid is None:
        return odoo.result(
            CANARY, "skipped", "not tried: the validation user did not log in"
        )
    return await asyncio.to_thread(_canary, odoo, uid)


def _canary(odoo: _Odoo, uid: int) -> CheckResult:
    started = time.monotonic()
    values = {
        "name": f"{CANARY_PREFIX} {secrets.token_hex(4)}",
        "active": False,
        "ref": f"odoo-dr-{secrets.token_hex(8)}",
    }
    with odoo.rpc("object") as proxy:

        def execute(method: str, args: list[Any], **kwargs: Any) -> Any:
            return proxy.execute_kw(
                odoo.database, uid, odoo.password, CANARY_MODEL, method, args, kwargs
            )

        try:
            record_id = execute("create", [values], context=QUIET)
        except Exception as exc:
            return _canary_not_created(odoo, exc, started)
        difference = _read_back(odoo, execute, record_id, values)
        removal = _remove(odoo, execute, record_id)
    return _canary_result(
        odoo, record_id, str(values["name"]), difference, removal, started
    )


def _read_back(
    odoo: _Odoo, execute: Execute, record_id: int, values: Mapping[str, Any]
) -> str | None:
    """None when the record reads back as written, else what differs."""
    try:
        rows = execute("read", [[record_id]], fields=list(values))
    except Exception as exc:
        return f"it could not be read back ({_problem(odoo, exc)})"
    if not rows:
        return "reading it back found no record"
    changed = [key for key, value in values.items() if rows[0].get(key) != value]
    return f"it read back with other {', '.join(changed)}" if changed else None


def _remove(odoo: _Odoo, execute: Execute, record_id: int) -> str | None:
    """None when the canary is gone, else why it is not."""
    try:
        removed = execute("unlink", [[record_id]])
    except Exception as exc:
        return _problem(odoo, exc)
    return None if removed is True else f"unlink answered {removed!r}"


def _canary_result(
    odoo: _Odoo,
    record_id: int,
    name: str,
    difference: str | None,
    removal: str | None,
    started: float,
) -> CheckResult:
    record = f"{CANARY_MODEL} {record_id} ({name!r})"
    found: dict[str, Figure] = {
        "model": CANARY_MODEL,
        "record_id": record_id,
        "read_back": difference is None,
        "removed": removal is None,
    }
    if difference is None and removal is None:
        return odoo.result(
            CANARY,
            "pass",
            f"canary {record} was created, read back and removed",
            started=started,
            found=found,
        )
    problems = [difference] if difference else []
    if removal:
        problems.append(f"it was not removed ({removal})")
        hint = f"delete {record} by hand (Contacts, filter Archived)"
    else:
        hint = "the database did not keep what Odoo wrote: read Odoo's log"
    # A canary that reads back wrong is a failure; one merely left behind is
    # a chore for a person, so a warning.
    return odoo.result(
        CANARY,
        "fail" if difference else "warn",
        f"canary {record}: {'; '.join(problems)}",
        started=started,
        found=found,
        examples=[record] if removal else [],
        hint=hint,
    )


def _canary_not_created(odoo: _Odoo, exc: BaseException, started: float) -> CheckResult:
    return odoo.result(
        CANARY,
        "fail",
        f"{odoo.where} did not create the canary {CANARY_MODEL}: {_problem(odoo, exc)}",
        started=started,
        found={"model": CANARY_MODEL, "created": False},
        hint="a 'read-only transaction' means Odoo still points at a standby in "
        "recovery; an access error means the validation user needs the right "
        "to create and delete contacts, or canary writes should be off",
    )


def _problem(odoo: _Odoo, exc: BaseException) -> str:
    if isinstance(exc, xmlrpc.client.Fault):
        return _fault_text(exc)
    return f"{odoo.where} {_describe_error(exc, odoo.timeout)[0]}"


def _fault_text(fault: xmlrpc.client.Fault) -> str:
    """The message of an Odoo fault, without its traceback.

    Odoo's ``/xmlrpc/2`` puts the message in ``faultCode`` (a string such as
    "warning -- AccessError", a blank line, then the message) and the
    traceback, if any, in ``faultString``; older endpoints put a number in
    ``faultCode`` and the message last in ``faultString``.
    """
    code = fault.faultCode
    text = code if isinstance(code, str) and code.strip() else fault.faultString
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not isinstance(code, str):
        lines = lines[-1:]
    elif lines and lines[0].startswith("warning -- "):
        lines[0] = lines[0].removeprefix("warning -- ") + ":"
    message = " ".join(lines)
    return message[:_FAULT_TEXT] or f"fault {code!r}"


def _is_unreachable(exc: BaseException) -> bool:
    """The request never got an HTTP answer: refused, timed out, no route."""
    if isinstance(exc, urllib.error.HTTPError | xmlrpc.client.ProtocolError):
        return False
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
        return True
    return isinstance(exc, OSError)


def _describe_error(exc: BaseException, timeout: float) -> tuple[str, str]:
    """What went wrong on the way to Odoo, and where a person should look."""
    if isinstance(exc, xmlrpc.client.Fault):
        return f"answered with a fault: {_fault_text(exc)}", "read Odoo's log"
    if isinstance(exc, urllib.error.HTTPError | xmlrpc.client.ProtocolError):
        code = exc.code if isinstance(exc, urllib.error.HTTPError) else exc.errcode
        return f"answered HTTP {code}", _http_hint(code)
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return (
            f"did not answer within {timeout:g} s",
            "Odoo may still be starting, overloaded or waiting on the database: "
            "check its workers and PostgreSQL",
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            "refused the connection: nothing listens there",
            "start Odoo in the target region, or correct odoo.url / "
            "odoo.base_urls in the inventory",
        )
    if isinstance(exc, socket.gaierror):
        return "has a host name that does not resolve", "check DNS for the region"
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({exc})", "check the certificate served"
    if isinstance(exc, xml.parsers.expat.ExpatError):
        return (
            "answered something that is not XML-RPC",
            "a proxy or a maintenance page may stand in front of Odoo",
        )
    if isinstance(exc, http.client.HTTPException | ConnectionError):
        return "closed the connection without an answer", "read Odoo's log"
    return f"could not be queried ({type(exc).__name__}: {exc})", "read Odoo's log"


def _http_hint(code: int) -> str:
    if code >= 500:
        return (
            "Odoo or the proxy in front of it is up but failing: read Odoo's "
            "log and check that it reaches PostgreSQL"
        )
    if code == 404:
        return "the URL does not lead to Odoo: check odoo.url and the ingress route"
    return "a proxy may refuse the request: let the validation's requests through"


def _display(url: str) -> str:
    """The URL's scheme, host and path, without credentials or query."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


def _all_skipped(reason: str, hint: str) -> list[CheckResult]:
    return [
        CheckResult(
            name=probe.name,
            area=AREA,
            verdict="skipped",
            critical=probe.critical,
            summary=reason,
            hint=hint,
        )
        for probe in PROBES
    ]


def _all_failed(odoo: _Odoo, reason: str) -> list[CheckResult]:
    hint = "give odoo.url (or odoo.base_urls) as http:// or https:// addresses"
    return [
        odoo.result(probe, "fail", reason, hint=hint)
        if probe.critical
        else odoo.result(probe, "skipped", f"not tried: {reason}")
        for probe in PROBES
    ]


def _log(result: CheckResult) -> None:
    level = logging.INFO if result.verdict in ("pass", "skipped") else logging.WARNING
    logger.log(level, "probe %s %s: %s", result.name, result.verdict, result.summary)
