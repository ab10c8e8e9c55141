from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from activities.odoo_probes import probe_application, probe_odoo_app
from odoo_dr.inventory import OdooApp, OdooValidation, SecretRef
from odoo_dr.validation import CheckResult
from tests.doubles.odoo_http import OdooHttpDouble

DATABASE = "hartmann_bau"
LOGIN = "odoo-dr-validation"
PASSWORD = "s3cret-Validation-pw"
WRONG = "wrong-Password-42x"


@pytest.fixture
def odoo() -> Iterator[OdooHttpDouble]:
    with OdooHttpDouble(database=DATABASE, login=LOGIN, password=PASSWORD) as double:
        yield double


async def probe(url: str | None, **overrides: Any) -> dict[str, CheckResult]:
    arguments: dict[str, Any] = {
        "database": DATABASE,
        "expected_version": "17.0",
        "login": LOGIN,
        "password": PASSWORD,
        "canary": True,
        "timeout": 5.0,
    }
    results = await probe_application(url, **{**arguments, **overrides})
    return {result.name: result for result in results}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def canaries(odoo: OdooHttpDouble) -> list[str]:
    return [
        str(record["name"])
        for record in odoo.partners.values()
        if str(record.get("name", "")).startswith("odoo-dr canary")
    ]


async def test_healthy_odoo_passes_every_probe(odoo: OdooHttpDouble) -> None:
    results = await probe(odoo.base_url)
    assert {name: result.verdict for name, result in results.items()} == {
        "application.health": "pass",
        "application.version": "pass",
        "application.login": "pass",
        "application.canary": "pass",
    }


async def test_canary_is_created_read_back_and_removed(odoo: OdooHttpDouble) -> None:
    await probe(odoo.base_url)
    writes = [call for call in odoo.calls if call.startswith("res.partner.")]
    assert writes == ["res.partner.create", "res.partner.read", "res.partner.unlink"]


async def test_double_holds_no_canary_afterwards(odoo: OdooHttpDouble) -> None:
    await probe(odoo.base_url)
    assert canaries(odoo) == []


async def test_without_url_every_probe_is_skipped() -> None:
    results = await probe(None)
    assert len(results) == 4
    assert all(result.verdict == "skipped" for result in results.values())


async def test_without_url_the_reason_names_the_missing_url() -> None:
    result = (await probe(None))["application.health"]
    assert "no Odoo URL" in result.summary and "odoo.url" in result.hint


async def test_health_answering_503_fails_critically(odoo: OdooHttpDouble) -> None:
    odoo.health_status = 503
    result = (await probe(odoo.base_url))["application.health"]
    assert result.verdict == "fail" and result.critical
    assert "HTTP 503" in result.summary


async def test_other_major_version_fails(odoo: OdooHttpDouble) -> None:
    odoo.version = "16.0"
    result = (await probe(odoo.base_url))["application.version"]
    assert result.verdict == "fail"
    assert result.found["major"] == 16 and result.expected["major"] == 17


async def test_wrong_password_fails_login_critically(odoo: OdooHttpDouble) -> None:
    result = (await probe(odoo.base_url, password=WRONG))["application.login"]
    assert result.verdict == "fail" and result.critical
    assert LOGIN in result.summary and result.hint


async def test_wrong_password_appears_nowhere_in_results(odoo: OdooHttpDouble) -> None:
    results = await probe(odoo.base_url, password=WRONG)
    dumped = json.dumps([result.model_dump(mode="json") for result in results.values()])
    assert WRONG not in dumped


async def test_wrong_password_appears_nowhere_in_logs(
    odoo: OdooHttpDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await probe(odoo.base_url, password=WRONG)
    assert caplog.records
    assert WRONG not in caplog.text


async def test_password_echoed_by_the_server_is_scrubbed(
    odoo: OdooHttpDouble,
) -> None:
    odoo.version = f"17.0+{PASSWORD}"
    results = await probe(odoo.base_url)
    dumped = json.dumps([result.model_dump(mode="json") for result in results.values()])
    assert PASSWORD not in dumped


async def test_failed_login_skips_the_canary(odoo: OdooHttpDouble) -> None:
    result = (await probe(odoo.base_url, password=WRONG))["application.canary"]
    assert result.verdict == "skipped"
    assert not any(call.startswith("res.partner.") for call in odoo.calls)


async def test_unknown_database_fails_login_with_odoos_message(
    odoo: OdooHttpDouble,
) -> None:
    result = (await probe(odoo.base_url, database="nope"))["application.login"]
    assert result.verdict == "fail"
    assert 'database "nope" does not exist' in result.summary


async def test_no_login_configured_skips_login_with_inventory_hint(
    odoo: OdooHttpDouble,
) -> None:
    result = (await probe(odoo.base_url, login=None, password=None))[
        "application.login"
    ]
    assert result.verdict == "skipped"
    assert "odoo.validation.login" in result.hint


async def test_canary_off_writes_nothing(odoo: OdooHttpDouble) -> None:
    results = await probe(odoo.base_url, canary=False)
    assert results["application.canary"].verdict == "skipped"
    assert not any(call.startswith("res.partner.") for call in odoo.calls)


async def test_canary_that_cannot_be_removed_warns_naming_the_record(
    odoo: OdooHttpDouble,
) -> None:
    odoo.refuse_unlink = True
    result = (await probe(odoo.base_url))["application.canary"]
    (record_id,) = odoo.partners
    assert result.verdict == "warn" and not result.critical
    assert f"res.partner {record_id}" in result.summary
    assert result.found["record_id"] == record_id and result.examples


async def test_server_not_listening_fails_quickly() -> None:
    started = time.monotonic()
    results = await probe(f"http://127.0.0.1:{free_port()}")
    assert results["application.health"].verdict == "fail"
    assert "refused" in results["application.health"].summary
    assert time.monotonic() - started < 2.0


async def test_unreachable_server_skips_the_xmlrpc_probes() -> None:
    results = await probe(f"http://127.0.0.1:{free_port()}")
    rest = [results[name].verdict for name in list(results)[1:]]
    assert rest == ["skipped", "skipped", "skipped"]


async def test_slow_server_fails_on_timeout(odoo: OdooHttpDouble) -> None:
    odoo.delay = 5.0
    started = time.monotonic()
    result = (await probe(odoo.base_url, timeout=0.3))["application.health"]
    assert result.verdict == "fail" and "within 0.3 s" in result.summary
    assert time.monotonic() - started < 2.0


async def test_non_http_url_fails() -> None:
    result = (await probe("file:///etc"))["application.health"]
    assert result.verdict == "fail" and "http(s)" in result.summary


async def test_inventory_password_reference_is_resolved(
    odoo: OdooHttpDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODOO_DR_TEST_VALIDATION_PW", PASSWORD)
    app = inventory_app(odoo.base_url, SecretRef(env="ODOO_DR_TEST_VALIDATION_PW"))
    results = await probe_odoo_app(app, timeout=5.0)
    assert results[2].name == "application.login" and results[2].verdict == "pass"


async def test_unresolvable_password_reference_fails_login(
    odoo: OdooHttpDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ODOO_DR_TEST_UNSET_PW", raising=False)
    app = inventory_app(odoo.base_url, SecretRef(env="ODOO_DR_TEST_UNSET_PW"))
    login = (await probe_odoo_app(app, timeout=5.0))[2]
    assert login.verdict == "fail" and "env:ODOO_DR_TEST_UNSET_PW" in login.summary


def inventory_app(url: str, password: SecretRef) -> OdooApp:
    return OdooApp(
        database=DATABASE,
        url=url,
        validation=OdooValidation(login=LOGIN, password=password, canary=True),
    )
