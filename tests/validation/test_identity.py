from __future__ import annotations

from activities.odoo_checks.catalogue import run_catalogue, select_checks
from odoo_dr.validation import Expectations
from tests.clusters import Cluster
from tests.validation.conftest import OdooCopy


async def test_healthy_copy_has_production_identity(odoo_copy: OdooCopy) -> None:
    results = await odoo_copy.validate(
        "identity",
        expected=Expectations(
            database_uuid=odoo_copy.database_uuid,
            base_url="https://erp.hartmann-bau.example/",
        ),
    )
    assert results["identity.odoo_version"].verdict == "pass"
    assert results["identity.database_uuid"].verdict == "pass"
    assert results["identity.base_url"].verdict == "pass"


async def test_changed_database_uuid_fails_as_a_duplicate(odoo_copy: OdooCopy) -> None:
    odoo_copy.execute(
        "UPDATE ir_config_parameter SET value = gen_random_uuid()::text "
        "WHERE key = 'database.uuid'"
    )
    result = (await odoo_copy.validate("identity"))["identity.database_uuid"]
    assert result.verdict == "fail" and result.critical
    assert "duplicate" in result.summary
    assert result.expected["database_uuid"] == odoo_copy.database_uuid


async def test_base_url_of_the_other_region_is_a_warning(odoo_copy: OdooCopy) -> None:
    expected = Expectations(
        database_uuid=odoo_copy.database_uuid, base_url="https://erp-b.example"
    )
    result = (await odoo_copy.validate("identity", expected=expected))[
        "identity.base_url"
    ]
    assert result.verdict == "fail" and not result.critical
    assert result.found["web_base_url"] == "https://erp.hartmann-bau.example"


async def test_unreachable_target_is_a_verdict_with_the_rest_skipped() -> None:
    version, results = await run_catalogue(
        "host=127.0.0.1 port=1 dbname=odoo user=nobody connect_timeout=2",
        inventory_version="17.0",
        expected=Expectations(),
        checks=select_checks([]),
    )
    assert version is None
    assert results[0].name == "connection.reachable"
    assert results[0].verdict == "fail"
    assert {r.verdict for r in results[1:]} == {"skipped"}


async def test_a_database_that_is_not_odoo_is_a_verdict(pg_cluster: Cluster) -> None:
    _, results = await run_catalogue(
        pg_cluster.conninfo("postgres"),
        inventory_version="17.0",
        expected=Expectations(),
        checks=select_checks([]),
    )
    assert results[0].name == "identity.odoo_database"
    assert "not an Odoo database" in results[0].summary
    assert all(r.verdict == "skipped" for r in results[1:])


async def test_an_unsupported_odoo_version_is_a_verdict(odoo_copy: OdooCopy) -> None:
    odoo_copy.execute(
        "UPDATE ir_module_module SET latest_version = '15.0.1.3' WHERE name = 'base'"
    )
    _, results = await run_catalogue(
        odoo_copy.conninfo,
        inventory_version="17.0",
        expected=Expectations(),
        checks=select_checks([]),
    )
    assert results[0].name == "identity.odoo_version"
    assert "'15.0' is not supported" in results[0].summary


async def test_a_version_other_than_the_inventory_fails(odoo_copy: OdooCopy) -> None:
    version, results = await run_catalogue(
        odoo_copy.conninfo,
        inventory_version="16.0",
        expected=Expectations(),
        checks=select_checks(["identity"]),
    )
    assert version == "17.0"
    gate = results[0]
    assert gate.verdict == "fail" and gate.expected == {"odoo_version": "16.0"}


def test_unknown_area_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown validation area"):
        select_checks(["payrol"])
