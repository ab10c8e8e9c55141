"""Redis after a region move: sessions and caches, never a record of truth.

Odoo keeps sessions (and, with some modules, caches and the bus) in Redis.
After a move they may name records or a database state that the new primary
does not have, so the inventory's ``redis_move`` says what happens:

- ``flush``: one Redis serves both regions; its database is emptied, and
  users log in again;
- ``switch``: each region has its own Redis, and each region's Odoo is
  configured with its own; the new region's must answer, and it is emptied
  of sessions left from the last time that region served;
- ``keep``: the Redis must answer; nothing is dropped.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from odoo_dr.cutover import RedisChange
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.inventory import Environment, Inventory, RedisTarget
from odoo_dr.secrets import resolve_secret

TIMEOUT_SECONDS = 5.0


class RedisActivities:
    """Emptying or checking Odoo's Redis when the serving region changes."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def move_redis(self, environment: str, region: str) -> RedisChange:
        """Prepare Redis for Odoo serving from ``region``, as redis_move says.

        Empties the Redis database (``flush``, ``switch``) or only checks
        that it answers (``keep``). Runs before the new region's Odoo
        starts, so a retry drops nothing of the new era: retrying is safe.
        Gives up (non-retryable) when the password is refused; a Redis that
        does not answer retries.
        """
        env = self._inventory.environment(environment)
        target = _target(env, region)
        if target is None:
            return RedisChange(
                action="skipped",
                region=region,
                detail="the environment has no Redis in the inventory",
            )
        flush = env.redis_move.action != "keep"
        address = f"{target.host}:{target.port}/{target.db}"
        try:
            dropped = await _prepare(target, flush)
        except AuthenticationError:
            raise ApplicationError(
                f"Redis {address} refused the password of the inventory",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            ) from None
        except ResponseError as exc:
            raise ApplicationError(
                f"Redis {address} refused: {str(exc).split(' ', 1)[0]}",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            ) from None
        except (RedisError, OSError) as exc:
            raise ApplicationError(
                f"Redis {address} does not answer: {type(exc).__name__}"
            ) from None
        if flush:
            activity.logger.info("redis %s flushed: %d keys dropped", address, dropped)
        return RedisChange(
            action="flushed" if flush else "kept",
            region=region,
            address=address,
            keys_dropped=dropped,
            detail=f"redis_move {env.redis_move.action}; the Redis answers",
        )


def _target(env: Environment, region: str) -> RedisTarget | None:
    if env.redis_move.action == "switch":
        return env.redis_move.by_region[region]
    return env.redis


async def _prepare(target: RedisTarget, flush: bool) -> int:
    """Ping ``target``; empty its database when asked. Keys dropped."""
    client = aioredis.Redis(
        host=target.host,
        port=target.port,
        db=target.db,
        password=resolve_secret(target.password) if target.password else None,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
    try:
        await client.ping()
        if not flush:
            return 0
        keys = int(await client.dbsize())
        await client.flushdb()
        return keys
    finally:
        await client.aclose()
