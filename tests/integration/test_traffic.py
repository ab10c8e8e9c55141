"""Traffic and Redis drivers of a region move, on the sandbox's real services.

Traefik's file provider is a folder of files (no Traefik runs here: the test
reads what Traefik would read); Route 53 is moto's server, the same process
that serves the sandbox's S3; Redis is the sandbox's redis-server.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
import yaml
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.redis import RedisActivities
from activities.traffic import TrafficActivities
from odoo_dr.cutover import RedisChange, TrafficChange
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.inventory import (
    Environment,
    Inventory,
    RedisMove,
    RedisTarget,
    SecretRef,
    Traffic,
)
from sandbox.objectstore import endpoint_url
from tests.conftest import Sandbox

pytestmark = pytest.mark.integration

ENV = "sandbox"
TARGETS = {"a": "http://10.1.0.5:8069", "b": "http://10.2.0.5:8069"}
# A file as an operator writes it: entry points, a health check, TLS.
HAND_WRITTEN = """\
http:
  routers:
    odoo:
      rule: Host(`erp.example`)
      entryPoints: [websecure]
      service: odoo-a
      tls: {certResolver: le}
  services:
    odoo-a:
      loadBalancer:
        servers: [{url: "http://10.1.0.5:8069"}]
        healthCheck: {path: /web/health, interval: 10s}
"""


def _with(sandbox: Sandbox, **changes: Any) -> Inventory:
    env: Environment = sandbox.env.model_copy(update=changes)
    return Inventory(environments={ENV: env})


async def _route(inventory: Inventory, region: str) -> TrafficChange:
    activities = TrafficActivities(inventory)
    return await ActivityEnvironment().run(activities.route_traffic, ENV, region)


def _traefik(folder: Path) -> Traffic:
    return Traffic(
        kind="traefik-file", config_dir=folder, hostname="erp.example", targets=TARGETS
    )


# Traefik's file provider.


async def test_traefik_router_moves_and_keeps_the_operators_settings(
    sandbox: Sandbox, tmp_path: Path
):
    (tmp_path / "odoo.yml").write_text(HAND_WRITTEN)
    moved = await _route(_with(sandbox, traffic=_traefik(tmp_path)), "b")

    assert (moved.action, moved.previous, moved.target) == (
        "routed",
        "odoo-a",
        "odoo-b",
    )
    config = yaml.safe_load((tmp_path / "odoo.yml").read_text())
    router = config["http"]["routers"]["odoo"]
    assert router["service"] == "odoo-b"
    assert router["entryPoints"] == ["websecure"] and router["tls"]
    services = config["http"]["services"]
    assert services["odoo-b"]["loadBalancer"]["servers"] == [{"url": TARGETS["b"]}]
    assert services["odoo-a"]["loadBalancer"]["healthCheck"]["path"] == "/web/health"
    # The replaced file is kept for a rollback by hand; no temporary is left.
    assert (tmp_path / "odoo.yml.previous").read_text() == HAND_WRITTEN
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "odoo.yml",
        "odoo.yml.previous",
    ]


async def test_traefik_route_already_there_is_left_unchanged(
    sandbox: Sandbox, tmp_path: Path
):
    inventory = _with(sandbox, traffic=_traefik(tmp_path))
    first = await _route(inventory, "b")
    written = (tmp_path / "odoo.yml").stat().st_mtime_ns
    again = await _route(inventory, "b")

    assert first.action == "routed" and first.previous is None
    assert again.action == "unchanged" and again.previous == "odoo-b"
    assert (tmp_path / "odoo.yml").stat().st_mtime_ns == written
    assert not (tmp_path / "odoo.yml.previous").exists()


async def test_traefik_file_that_is_not_yaml_is_refused_and_kept(
    sandbox: Sandbox, tmp_path: Path
):
    (tmp_path / "odoo.yml").write_text("http: [unclosed\n")
    with pytest.raises(ApplicationError) as refused:
        await _route(_with(sandbox, traffic=_traefik(tmp_path)), "b")

    assert refused.value.non_retryable and refused.value.type == PRECONDITION_FAILED
    assert "is not a Traefik dynamic configuration" in refused.value.message
    assert (tmp_path / "odoo.yml").read_text() == "http: [unclosed\n"


async def test_region_without_a_target_is_refused(sandbox: Sandbox, tmp_path: Path):
    traffic = _traefik(tmp_path).model_copy(update={"targets": {"a": TARGETS["a"]}})
    with pytest.raises(ApplicationError) as refused:
        await _route(_with(sandbox, traffic=traffic), "b")

    assert refused.value.non_retryable
    assert "traffic.targets has no entry for region 'b'" in refused.value.message
    assert not (tmp_path / "odoo.yml").exists()


# Route 53, on moto's server.


def _route53(sandbox: Sandbox) -> Any:
    return boto3.client(
        "route53",
        endpoint_url=endpoint_url(sandbox.state.ports.s3),
        region_name="us-east-1",
        aws_access_key_id="moto",
        aws_secret_access_key="moto",
    )


@pytest.fixture
def zone(sandbox: Sandbox) -> str:
    client = _route53(sandbox)
    created = client.create_hosted_zone(
        Name="acme-construction.example.", CallerReference=uuid.uuid4().hex
    )
    return str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def _dns(sandbox: Sandbox, zone: str) -> Traffic:
    return Traffic(
        kind="route53",
        hosted_zone_id=zone,
        hostname="erp.acme-construction.example",
        targets={"a": "odoo-a.eu-west.example.", "b": "odoo-b.eu-central.example."},
        endpoint_url=endpoint_url(sandbox.state.ports.s3),
        access_key_id=SecretRef(file=sandbox.layout.secret("s3-access-key-id")),
        secret_access_key=SecretRef(file=sandbox.layout.secret("s3-secret-access-key")),
    )


def _record(sandbox: Sandbox, zone: str) -> list[str]:
    listed = _route53(sandbox).list_resource_record_sets(HostedZoneId=zone)
    return [
        value["Value"]
        for record in listed["ResourceRecordSets"]
        if record["Name"] == "erp.acme-construction.example."
        and record["Type"] == "CNAME"
        for value in record["ResourceRecords"]
    ]


async def test_route53_record_is_upserted_to_the_new_region(
    sandbox: Sandbox, zone: str
):
    inventory = _with(sandbox, traffic=_dns(sandbox, zone))
    first = await _route(inventory, "a")
    moved = await _route(inventory, "b")

    assert first.action == "routed" and first.previous is None
    assert moved.action == "routed" and moved.previous == "odoo-a.eu-west.example."
    assert _record(sandbox, zone) == ["odoo-b.eu-central.example."]


async def test_route53_record_already_there_is_left_unchanged(
    sandbox: Sandbox, zone: str
):
    inventory = _with(sandbox, traffic=_dns(sandbox, zone))
    await _route(inventory, "b")
    again = await _route(inventory, "b")

    assert again.action == "unchanged"
    assert _record(sandbox, zone) == ["odoo-b.eu-central.example."]


async def test_route53_unknown_zone_is_refused(sandbox: Sandbox):
    traffic = _dns(sandbox, "Z0000000000NOSUCH")
    with pytest.raises(ApplicationError) as refused:
        await _route(_with(sandbox, traffic=traffic), "b")

    assert refused.value.non_retryable and refused.value.type == PRECONDITION_FAILED
    assert "NoSuchHostedZone" in refused.value.message


# Redis, on the sandbox's redis-server (database 7: nobody else's).


def _redis_target(sandbox: Sandbox, password_file: Path | None = None) -> RedisTarget:
    return RedisTarget(
        host="127.0.0.1",
        port=sandbox.state.ports.redis,
        db=7,
        password=SecretRef(
            file=password_file or sandbox.layout.secret("redis-password")
        ),
    )


def _redis(sandbox: Sandbox) -> redis.Redis:
    password = sandbox.layout.secret("redis-password").read_text().strip()
    return redis.Redis(port=sandbox.state.ports.redis, db=7, password=password)


async def _move(inventory: Inventory, region: str = "b") -> RedisChange:
    activities = RedisActivities(inventory)
    return await ActivityEnvironment().run(activities.move_redis, ENV, region)


async def test_redis_flush_drops_the_old_sessions(sandbox: Sandbox):
    store = _redis(sandbox)
    store.mset({"session:1": "old", "session:2": "old"})
    change = await _move(_with(sandbox, redis=_redis_target(sandbox)))

    assert change.action == "flushed" and change.keys_dropped == 2
    assert store.dbsize() == 0


async def test_redis_keep_drops_nothing(sandbox: Sandbox):
    store = _redis(sandbox)
    store.set("session:1", "kept")
    inventory = _with(
        sandbox, redis=_redis_target(sandbox), redis_move=RedisMove(action="keep")
    )
    change = await _move(inventory)

    assert change.action == "kept" and change.keys_dropped == 0
    assert store.get("session:1") == b"kept"
    store.flushdb()


async def test_redis_switch_uses_the_new_regions_redis(sandbox: Sandbox):
    store = _redis(sandbox)
    store.set("session:from-last-time", "stale")
    dead = RedisTarget(host="127.0.0.1", port=1, db=0)  # region a's is gone
    move = RedisMove(
        action="switch", by_region={"a": dead, "b": _redis_target(sandbox)}
    )
    change = await _move(_with(sandbox, redis=None, redis_move=move), "b")

    assert change.action == "flushed" and change.keys_dropped == 1
    assert change.address == f"127.0.0.1:{sandbox.state.ports.redis}/7"


async def test_redis_wrong_password_is_refused_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
):
    store = _redis(sandbox)
    store.set("session:1", "kept")
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password")
    inventory = _with(sandbox, redis=_redis_target(sandbox, wrong))
    with pytest.raises(ApplicationError) as refused:
        await _move(inventory)

    assert refused.value.non_retryable
    assert "refused the password" in refused.value.message
    assert "not-the-password" not in refused.value.message
    assert store.get("session:1") == b"kept"
    store.flushdb()
