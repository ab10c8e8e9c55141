"""Probes of what must work again after a region move: SFTP, payments, hooks.

An ``http`` integration passes when its URL answers 2xx or 3xx; a ``tcp``
one when its host accepts a connection. ``task`` integrations are not
probed: the runbook asks their owner (see workflows.region_move).
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

from temporalio import activity

from odoo_dr.cutover import IntegrationCheck
from odoo_dr.inventory import Integration, Inventory


class IntegrationActivities:
    """Probing the environment's integrations from the worker."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def probe_integrations(self, environment: str) -> list[IntegrationCheck]:
        """Probe every http and tcp integration; list the tasks for owners.

        Changes nothing (a GET, a TCP connection). Retrying is safe. A
        probe that fails is reported, not raised: the runbook decides.
        """
        env = self._inventory.environment(environment)
        return list(await asyncio.gather(*(_probe(i) for i in env.integrations)))


async def _probe(item: Integration) -> IntegrationCheck:
    if item.kind == "task":
        return _check(item, None, f"a task for {item.owner}: {item.description}")
    if item.kind == "tcp":
        return await _tcp(item)
    return await asyncio.to_thread(_http, item)


async def _tcp(item: Integration) -> IntegrationCheck:
    where = f"{item.host}:{item.port}"
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(item.host, item.port),
            item.timeout.total_seconds(),
        )
    except (OSError, TimeoutError) as exc:
        return _check(item, False, f"{where} refused: {_reason(exc)}")
    writer.close()
    return _check(item, True, f"{where} accepts connections")


def _http(item: Integration) -> IntegrationCheck:
    assert item.url is not None
    request = urllib.request.Request(item.url, headers={"User-Agent": "odoo-dr"})
    seconds = item.timeout.total_seconds()
    try:
        with urllib.request.urlopen(request, timeout=seconds) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return _check(item, False, f"{item.url} unreachable: {_reason(exc)}")
    return _check(item, 200 <= status < 400, f"{item.url} answered HTTP {status}")


def _check(item: Integration, ok: bool | None, detail: str) -> IntegrationCheck:
    return IntegrationCheck(
        name=item.name, kind=item.kind, ok=ok, detail=detail, owner=item.owner
    )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(getattr(reason, "strerror", None) or type(reason).__name__)
