from datetime import timedelta
from pathlib import Path

import pytest

from odoo_dr.errors import InventoryError, SecretError, UnknownEnvironmentError
from odoo_dr.inventory import SecretRef, dump_inventory, load_inventory, parse_inventory
from odoo_dr.secrets import resolve_secret

VALID = """
environments:
  prod:
    primary_region: a
    standby_region: b
    regions:
      a: {postgres: [{name: pg-a, role: primary, host: 10.0.0.1,
                      password: {env: PG_PASSWORD}}]}
      b: {postgres: [{name: pg-b, role: standby, host: 10.0.1.1}]}
    object_store: {bucket: acme-odoo, prefix: pg, server_name: prod}
    odoo: {database: acme, version: "17.0"}
    drill: {work_dir: /srv/drills}
    tiers:
      - {name: payroll, rto: 1h, rpo: 5m, areas: [payroll]}
"""


def test_valid_inventory_loads_with_parsed_durations():
    inventory = parse_inventory(VALID, "inv.yaml")
    env = inventory.environment("prod")
    assert env.primary().name == "pg-a"
    assert env.standby() is not None and env.standby().name == "pg-b"
    assert env.tiers[0].rto == timedelta(hours=1)
    assert env.tiers[0].rpo == timedelta(minutes=5)
    assert env.object_store.destination_url == "s3://acme-odoo/pg"


def test_bad_field_error_names_its_path():
    text = VALID.replace("host: 10.0.1.1", "host: 10.0.1.1, port: 70000")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yaml")
    assert "environments.prod.regions.b.postgres.0.port" in str(caught.value)
    assert str(caught.value).startswith("inv.yaml:")


def test_malformed_yaml_is_reported_with_its_source():
    with pytest.raises(InventoryError, match="inv.yaml: cannot parse"):
        parse_inventory("environments: [unclosed", "inv.yaml")


def test_inline_secret_value_is_refused_without_echoing_it():
    text = VALID.replace("{env: PG_PASSWORD}", "hunter2-secret")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yaml")
    message = str(caught.value)
    assert "never the value itself" in message
    assert "hunter2-secret" not in message


def test_unknown_field_is_refused():
    text = VALID.replace("database: acme", "database: acme, dbase: typo")
    with pytest.raises(InventoryError, match="environments.prod.odoo.dbase"):
        parse_inventory(text, "inv.yaml")


def test_primary_region_must_be_a_region():
    text = VALID.replace("primary_region: a", "primary_region: z")
    with pytest.raises(InventoryError, match="primary_region 'z' is not a region"):
        parse_inventory(text, "inv.yaml")


def test_two_primaries_are_refused():
    text = VALID.replace("role: standby", "role: primary")
    with pytest.raises(InventoryError, match="exactly one PostgreSQL node"):
        parse_inventory(text, "inv.yaml")


def test_unknown_environment_names_the_known_ones():
    inventory = parse_inventory(VALID, "inv.yaml")
    with pytest.raises(UnknownEnvironmentError, match="'prdo'.*has: prod"):
        inventory.environment("prdo")


def test_toml_inventory_loads(tmp_path: Path):
    path = tmp_path / "inv.toml"
    path.write_text(
        """
[environments.prod]
primary_region = "a"
standby_region = "b"
odoo = { database = "acme" }
drill = { work_dir = "/srv/drills" }
object_store = { bucket = "acme-odoo", server_name = "prod" }
[[environments.prod.regions.a.postgres]]
name = "pg-a"
role = "primary"
host = "10.0.0.1"
[[environments.prod.regions.b.postgres]]
name = "pg-b"
role = "standby"
host = "10.0.1.1"
"""
    )
    assert load_inventory(path).environment("prod").primary().host == "10.0.0.1"


def test_missing_file_is_an_inventory_error(tmp_path: Path):
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "absent.yaml")


def test_dumped_inventory_reads_back_equal():
    inventory = parse_inventory(VALID, "inv.yaml")
    assert parse_inventory(dump_inventory(inventory), "again.yaml") == inventory


def test_secret_resolves_from_env_and_file(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ODOO_DR_TEST_SECRET", "from-env")
    secret_file = tmp_path / "s"
    secret_file.write_text("from-file\n")
    assert resolve_secret(SecretRef(env="ODOO_DR_TEST_SECRET")) == "from-env"
    assert resolve_secret(SecretRef(file=secret_file)) == "from-file"


def test_unset_secret_error_names_the_reference_only(monkeypatch):
    monkeypatch.delenv("ODOO_DR_ABSENT", raising=False)
    with pytest.raises(SecretError, match="env:ODOO_DR_ABSENT is not set"):
        resolve_secret(SecretRef(env="ODOO_DR_ABSENT"))


def _with(extra: str) -> str:
    return VALID + extra


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "    integrations: [{name: bank, kind: http}]\n",
            "integration bank: http needs a url",
        ),
        (
            "    integrations: [{name: sftp, kind: tcp, host: 10.0.0.9}]\n",
            "integration sftp: tcp needs host and port",
        ),
        (
            "    integrations: [{name: portal, kind: task, owner: nobody}]\n",
            "owner 'nobody' is not a person of approvals.people",
        ),
        (
            "    traffic: {kind: traefik-file, targets: {c: 'http://x'}}\n",
            "traffic kind traefik-file needs config_dir",
        ),
        (
            "    traffic: {kind: none, targets: {c: 'http://x'}}\n",
            "traffic.targets names unknown region(s) ['c']",
        ),
        (
            "    redis_move: {action: switch, by_region: {a: {host: r}}}\n",
            "redis_move switch needs a Redis for every region; none for ['b']",
        ),
        (
            "    time_zone: Europe/Atlantis\n",
            "unknown time zone 'Europe/Atlantis': use an IANA name",
        ),
    ],
)
def test_incomplete_environment_settings_are_refused(extra: str, message: str):
    with pytest.raises(InventoryError) as refused:
        parse_inventory(_with(extra), "inv.yaml")
    assert message in str(refused.value)


def test_integration_owner_gets_a_gate_only_they_decide():
    from odoo_dr.approvals import (
        ApprovalPlan,
        GatePolicy,
        GateState,
        Person,
        Vote,
        refusal,
    )

    policy = GatePolicy(roles=["payables_lead"], people=["jonas"], two_person=False)
    gate = GateState(
        name="reconnect_bank",
        request_id="reconnect_bank-1",
        what="reconnect",
        policy=policy,
        opened_at="2026-12-03T10:00:00Z",  # type: ignore[arg-type]
    )
    plan = ApprovalPlan(
        people=[
            Person(id="jonas", roles=["payables_lead"]),
            Person(id="erik", roles=["payables_lead"]),
        ],
        gates={"reconnect_bank": policy},
    )

    def vote(person: str) -> str | None:
        ballot = Vote(
            gate=gate.name,
            request_id=gate.request_id,
            person=person,
            nonce=f"nonce-of-{person}",
            decision="approve",
        )
        return refusal(
            gate, ballot, plan, run_id="r", started_by="jonas", used_nonces=set()
        )

    assert vote("erik") == "only jonas may decide gate 'reconnect_bank'"
    assert vote("jonas") is None  # the starter too: confirming is no approval
