"""Sending users to the region that serves: Traefik's file provider, Route 53.

The driver is the inventory's ``traffic.kind``:

- ``traefik-file``: one file of the folder Traefik's file provider watches
  (``traffic.file``, ``odoo.yml`` by default) holds Odoo's router
  (``traffic.router``) and a service ``odoo-<region>`` per region; a move
  points the router at the new region's service and keeps the rest of the
  file as written. The file is replaced atomically (Traefik never reads half
  of it) and the one it replaces is kept beside it as ``<file>.previous``
  for a rollback by hand. Traefik ignores both the temporary file and the
  kept one: it loads only ``.yml``, ``.yaml`` and ``.toml`` files.
- ``route53``: an UPSERT of the hostname's record to the region's value,
  then a wait until Route 53 reports the change in sync.
- ``none``: nothing to do; reported as skipped.
"""

from __future__ import annotations

import asyncio
import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hosts import beat
from activities.object_store import aws_session
from odoo_dr.cutover import TrafficChange
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.inventory import Environment, Inventory, Traffic

ROUTE53_SYNC_TIMEOUT_SECONDS = 300.0
ROUTE53_POLL_SECONDS = 2.0
# Route 53 refusals that no retry can fix: wrong zone, wrong record, no rights.
_ROUTE53_FINAL = {
    "NoSuchHostedZone",
    "InvalidChangeBatch",
    "InvalidInput",
    "AccessDenied",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
}


class TrafficActivities:
    """Moving ingress and DNS between regions."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def route_traffic(self, environment: str, region: str) -> TrafficChange:
        """Send Odoo's users to ``region``: ingress file or DNS record.

        Changes the Traefik dynamic file or the Route 53 record. Retrying is
        safe: it reads first, and a route already there is left unchanged.
        Gives up (non-retryable) when the region has no target in
        ``traffic.targets``, or when Route 53 refuses the zone, the record
        or the credentials; a folder that cannot be written retries.
        """
        env = self._inventory.environment(environment)
        traffic = env.traffic
        if traffic.kind == "none":
            return TrafficChange(
                kind="none",
                region=region,
                action="skipped",
                detail="the inventory routes no traffic (traffic.kind: none)",
            )
        target = _target(env, region)
        if traffic.kind == "traefik-file":
            return await asyncio.to_thread(_route_traefik, traffic, region)
        return await _route_route53(traffic, region, target)


def _target(env: Environment, region: str) -> str:
    target = env.traffic.targets.get(region)
    if not target:
        raise ApplicationError(
            f"traffic.targets has no entry for region {region!r}: add where "
            "users must be sent when it serves",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    return target


# Traefik's file provider.


def traefik_config(
    traffic: Traffic, current: dict[str, Any], region: str
) -> dict[str, Any]:
    """``current`` with Odoo's router sending to ``region``'s service.

    Everything else of the file is kept as the operator wrote it (entry
    points, TLS, middlewares, health checks); each region of
    ``traffic.targets`` gets a service ``odoo-<region>`` with its address.
    """
    config = copy.deepcopy(current)
    http = config.setdefault("http", {})
    routers = http.setdefault("routers", {})
    services = http.setdefault("services", {})
    rule = f"Host(`{traffic.hostname}`)" if traffic.hostname else "PathPrefix(`/`)"
    router = routers.setdefault(traffic.router, {"rule": rule})
    router["service"] = f"odoo-{region}"
    for name, url in traffic.targets.items():
        service = services.setdefault(f"odoo-{name}", {})
        service.setdefault("loadBalancer", {})["servers"] = [{"url": url}]
    return config


def _route_traefik(traffic: Traffic, region: str) -> TrafficChange:
    assert traffic.config_dir is not None
    path = traffic.config_dir / traffic.file
    previous = _read(path)
    current = _parse(path, previous)
    was = current.get("http", {}).get("routers", {}).get(traffic.router, {})
    wanted = traefik_config(traffic, current, region)
    change = TrafficChange(
        kind="traefik-file",
        region=region,
        action="unchanged",
        target=f"odoo-{region}",
        previous=was.get("service"),
        detail=f"router {traffic.router} in {path}",
    )
    if wanted == current:
        return change
    traffic.config_dir.mkdir(parents=True, exist_ok=True)
    if previous is not None:
        _replace(path.with_name(path.name + ".previous"), previous)
    _replace(path, yaml.safe_dump(wanted, sort_keys=False))
    activity.logger.info(
        "traefik router %s now sends to odoo-%s", traffic.router, region
    )
    return change.model_copy(update={"action": "routed"})


def _parse(path: Path, text: str | None) -> dict[str, Any]:
    """The file's configuration; refuses (non-retryable) one it cannot read."""
    try:
        config = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as exc:
        config = exc
    if not isinstance(config, dict):
        raise ApplicationError(
            f"{path} is not a Traefik dynamic configuration in YAML; fix or "
            "remove it (Traefik cannot be reading it either)",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    return config


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file, then rename)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".odoo-dr-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Route 53.


async def _route_route53(traffic: Traffic, region: str, target: str) -> TrafficChange:
    client = _route53(traffic)
    name = _fqdn(traffic.hostname or "")
    try:
        previous = await asyncio.to_thread(_current_value, client, traffic, name)
        change = TrafficChange(
            kind="route53",
            region=region,
            action="unchanged",
            target=target,
            previous=previous,
            detail=f"{traffic.record_type} {name} in zone {traffic.hosted_zone_id}",
        )
        if previous is not None and _same(previous, target, traffic):
            return change
        answer = await asyncio.to_thread(
            client.change_resource_record_sets,
            HostedZoneId=traffic.hosted_zone_id,
            ChangeBatch={
                "Comment": f"odoo-dr: send users to region {region}",
                "Changes": [_upsert(traffic, name, target)],
            },
        )
        await _wait_in_sync(client, answer["ChangeInfo"]["Id"])
    except ClientError as exc:
        raise _route53_error(exc, traffic) from None
    except BotoCoreError as exc:
        raise ApplicationError(f"Route 53 unreachable: {type(exc).__name__}") from None
    activity.logger.info("record %s now points to region %s", name, region)
    return change.model_copy(update={"action": "routed"})


def _route53(traffic: Traffic) -> Any:
    session = aws_session(
        traffic.region_name, traffic.access_key_id, traffic.secret_access_key
    )
    return session.client("route53", endpoint_url=traffic.endpoint_url)


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _same(value: str, target: str, traffic: Traffic) -> bool:
    if traffic.record_type == "CNAME":
        return _fqdn(value) == _fqdn(target)
    return value == target


def _current_value(client: Any, traffic: Traffic, name: str) -> str | None:
    listed = client.list_resource_record_sets(
        HostedZoneId=traffic.hosted_zone_id,
        StartRecordName=name,
        StartRecordType=traffic.record_type,
        MaxItems="1",
    )
    for record in listed.get("ResourceRecordSets", []):
        if _fqdn(record["Name"]) == name and record["Type"] == traffic.record_type:
            values = record.get("ResourceRecords") or [{}]
            return values[0].get("Value")
    return None


def _upsert(traffic: Traffic, name: str, target: str) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": name,
            "Type": traffic.record_type,
            "TTL": traffic.ttl,
            "ResourceRecords": [{"Value": target}],
        },
    }


async def _wait_in_sync(client: Any, change_id: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ROUTE53_SYNC_TIMEOUT_SECONDS
    while True:
        info = (await asyncio.to_thread(client.get_change, Id=change_id))["ChangeInfo"]
        if info["Status"] == "INSYNC":
            return
        if loop.time() >= deadline:
            raise ApplicationError(
                f"Route 53 change {change_id} still {info['Status']} after "
                f"{ROUTE53_SYNC_TIMEOUT_SECONDS:.0f} s; a retry checks it again"
            )
        beat(f"change {change_id} {info['Status']}")
        await asyncio.sleep(ROUTE53_POLL_SECONDS)


def _route53_error(exc: ClientError, traffic: Traffic) -> ApplicationError:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    message = (
        f"Route 53 refused the change of {traffic.hostname} in zone "
        f"{traffic.hosted_zone_id}: {code}"
    )
    if code in _ROUTE53_FINAL:
        return ApplicationError(
            message + "; check traffic.hosted_zone_id, hostname and credentials",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        )
    return ApplicationError(message)
