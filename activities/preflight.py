"""Pre-flight of a region move: the facts shown before anyone approves.

It reads the pair (activities.postgres_pair), checks that region B's
credentials resolve and authenticate, and judges which paths are open: a
planned switchover needs a healthy, streaming pair; a failover needs a
standby to promote, and an explicit override when its lag exceeds the
strictest recovery tier's RPO.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.kubernetes import inspect_deployment
from activities.postgres import node_conninfo
from activities.postgres_pair import PairActivities
from odoo_dr.cutover import NodeState, PairState, Preflight, PreflightCheck
from odoo_dr.errors import BAD_INPUT, SecretError
from odoo_dr.inventory import Environment, Inventory, PostgresNode, SecretRef
from odoo_dr.secrets import resolve_secret

# WAL not archived for longer than this while the primary writes is a warning.
ARCHIVE_STALE = timedelta(minutes=15)


class PreflightActivities:
    """The pre-flight of switchover, failover and failback."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory
        self._pair = PairActivities(inventory)

    @activity.defn
    async def preflight(self, environment: str, to_region: str | None) -> Preflight:
        """Inspect the pair and region ``to_region``'s access; judge the paths.

        Changes nothing. Retrying is safe. Refuses (non-retryable) a region
        the environment does not have, or one without a standby node.
        """
        env = self._inventory.environment(environment)
        pair = await self._pair.inspect_pair(environment)
        serving = pair.serving_region()
        target_region = to_region or _other_region(env, serving)
        target = _standby_of(env, target_region)
        source = next((n for n in pair.primaries() if n.region != target_region), None)
        old = source or next(n for n in pair.nodes if n.region != target_region)
        checks = [
            _primary_check(pair, target_region),
            _standby_check(pair.node(target.name)),
            _streaming_check(pair, source, pair.node(target.name)),
            _lag_check(pair, _rpo_budget(env)),
            _archive_check(source),
            _modules_check(source, pair.node(target.name)),
            await _credentials_check(env, target),
            await _capacity_check(env, target_region),
        ]
        return _judged(pair, env, source, old, target, target_region, checks)


def _other_region(env: Environment, serving: str | None) -> str:
    """The region that does not serve now (the standby region if unknown)."""
    if serving is None:
        return env.standby_region
    return next(r for r in env.regions if r != serving)


def _standby_of(env: Environment, region: str) -> PostgresNode:
    if region not in env.regions:
        known = ", ".join(sorted(env.regions))
        raise ApplicationError(
            f"environment {env.name} has no region {region!r} (known: {known})",
            type=BAD_INPUT,
            non_retryable=True,
        )
    return env.regions[region].postgres[0]


def _rpo_budget(env: Environment) -> float | None:
    """The strictest recovery tier's RPO, in seconds."""
    budgets = [tier.rpo.total_seconds() for tier in env.tiers]
    return min(budgets) if budgets else None


def _primary_check(pair: PairState, target_region: str) -> PreflightCheck:
    writable = [n for n in pair.primaries() if not n.read_only]
    names = ", ".join(f"{n.name} ({n.region})" for n in writable)
    if len(writable) > 1:
        return PreflightCheck(
            name="one primary",
            ok=False,
            detail=f"{len(writable)} writable primaries answer: {names}",
            blocks=["switchover", "failover"],
        )
    if not writable:
        return PreflightCheck(
            name="one primary",
            ok=False,
            detail="no writable primary answers",
            blocks=["switchover"],
        )
    if writable[0].region == target_region:
        return PreflightCheck(
            name="one primary",
            ok=False,
            detail=f"region {target_region} already serves ({names})",
            blocks=["switchover", "failover"],
        )
    return PreflightCheck(name="one primary", ok=True, detail=f"{names} serves")


def _standby_check(target: NodeState) -> PreflightCheck:
    ok = target.reachable and bool(target.in_recovery)
    if not target.reachable:
        detail = f"{target.name} does not answer: {target.error}"
    elif not target.in_recovery:
        detail = f"{target.name} is not in recovery: it is no standby"
    else:
        detail = f"{target.name} is a standby at {target.wal_lsn}"
    blocks: list = [] if ok else ["switchover", "failover"]
    return PreflightCheck(name="standby", ok=ok, detail=detail, blocks=blocks)


def _streaming_check(
    pair: PairState, source: NodeState | None, target: NodeState
) -> PreflightCheck:
    ok = target.streaming_from is not None and source is not None
    detail = (
        f"{target.name} streams from {target.streaming_from}"
        if target.streaming_from
        else f"{target.name} receives no WAL stream"
    )
    return PreflightCheck(
        name="streaming", ok=ok, detail=detail, blocks=[] if ok else ["switchover"]
    )


def _lag_check(pair: PairState, budget: float | None) -> PreflightCheck:
    seconds, size = pair.lag_seconds, pair.lag_bytes
    if seconds is None and size:
        # The primary answers and the standby is behind, but it replayed no
        # commit since it started: how much commit time it lacks is unknown,
        # so the budget cannot be shown to hold.
        detail = (
            f"{size} bytes behind the primary; the standby replayed no commit "
            "since it started, so the span of commits behind is unknown"
        )
        if budget is None:
            return PreflightCheck(name="replay lag", ok=True, detail=detail)
        return PreflightCheck(
            name="replay lag",
            ok=False,
            detail=f"{detail}; RPO budget {budget:.0f} s cannot be shown to hold",
            blocks=["failover"],
        )
    if seconds is None:
        # With the primary gone nobody can say what it had: the loss is
        # measured after promotion instead.
        return PreflightCheck(
            name="replay lag",
            ok=True,
            detail="lag unknown: the primary does not answer"
            + (f"; RPO budget {budget:.0f} s" if budget is not None else ""),
        )
    detail = f"{size or 0} bytes, {seconds:.1f} s of commits behind the primary"
    if budget is None:
        return PreflightCheck(name="replay lag", ok=True, detail=detail + "; no RPO")
    ok = seconds <= budget
    return PreflightCheck(
        name="replay lag",
        ok=ok,
        detail=f"{detail}; RPO budget {budget:.0f} s",
        blocks=[] if ok else ["failover"],
    )


def _archive_check(source: NodeState | None) -> PreflightCheck:
    if source is None:
        return PreflightCheck(name="WAL archive", ok=False, detail="no primary to ask")
    if source.archived_at is None:
        return PreflightCheck(
            name="WAL archive", ok=False, detail=f"{source.name} archived nothing yet"
        )
    age = datetime.now(UTC) - source.archived_at
    failures = source.archive_failures or 0
    ok = age <= ARCHIVE_STALE
    return PreflightCheck(
        name="WAL archive",
        ok=ok,
        detail=f"last segment archived {age.total_seconds():.0f} s ago; "
        f"{failures} failed attempts since the statistics were reset",
    )


def _modules_check(source: NodeState | None, target: NodeState) -> PreflightCheck:
    if source is None or not source.modules or not target.modules:
        return PreflightCheck(
            name="Odoo modules", ok=True, detail="not compared (a side is unreadable)"
        )
    differ = sorted(
        name
        for name in set(source.modules) | set(target.modules)
        if source.modules.get(name) != target.modules.get(name)
    )
    if differ:
        return PreflightCheck(
            name="Odoo modules",
            ok=False,
            detail=f"versions differ for {', '.join(differ[:10])}",
            blocks=["switchover"],
        )
    return PreflightCheck(
        name="Odoo modules",
        ok=True,
        detail=f"{len(source.modules)} installed modules, same versions",
    )


async def _credentials_check(env: Environment, target: PostgresNode) -> PreflightCheck:
    """Every secret the target region needs resolves; Odoo's login works there."""
    refs: list[tuple[str, SecretRef | None]] = [
        (f"{target.name} superuser password", target.password),
        ("odoo.db_password", env.odoo.db_password),
        ("replication.password", env.replication.password),
        ("redis.password", env.redis.password if env.redis else None),
    ]
    for label, ref in refs:
        if ref is None:
            continue
        try:
            resolve_secret(ref)
        except SecretError as exc:
            return _credentials_failed(f"{label} {ref.describe()}: {exc}")
    try:
        password = (
            resolve_secret(env.odoo.db_password) if env.odoo.db_password else None
        )
        conninfo = node_conninfo(target, env.odoo.database)
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
        params.update(user=env.odoo.db_user, password=password)
        async with await psycopg.AsyncConnection.connect(**params):  # type: ignore[arg-type]
            pass
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
        return _credentials_failed(
            f"Odoo's database user {env.odoo.db_user} cannot log in to "
            f"{target.name}: {first}"
        )
    return PreflightCheck(
        name="credentials",
        ok=True,
        detail=f"secrets resolve; {env.odoo.db_user} logs in to {target.name}",
    )


def _credentials_failed(detail: str) -> PreflightCheck:
    return PreflightCheck(
        name="credentials", ok=False, detail=detail, blocks=["switchover", "failover"]
    )


async def _capacity_check(env: Environment, region: str) -> PreflightCheck:
    """Region ``region``'s Odoo: in the inventory, and on Kubernetes reachable."""
    deployments = [d for d in env.odoo.deployments if d.region == region]
    if not deployments:
        return PreflightCheck(
            name="app tier",
            ok=False,
            detail=f"no Odoo deployment of region {region} in the inventory",
        )
    found = []
    for d in deployments:
        if d.kind != "kubernetes":
            found.append(f"{d.name} ({d.kind}, {d.replicas})")
            continue
        try:
            found.append(await inspect_deployment(env.kubernetes.get(region), d))
        except ApplicationError as exc:
            return PreflightCheck(
                name="app tier",
                ok=False,
                detail=exc.message,
                blocks=["switchover", "failover"],
            )
    return PreflightCheck(name="app tier", ok=True, detail="; ".join(found))


def _judged(
    pair: PairState,
    env: Environment,
    source: NodeState | None,
    old: NodeState,
    target: PostgresNode,
    target_region: str,
    checks: list[PreflightCheck],
) -> Preflight:
    def closed(path: str) -> bool:
        return any(
            not c.ok and path in c.blocks and c.name != "replay lag" for c in checks
        )

    lag = next(c for c in checks if c.name == "replay lag")
    return Preflight(
        pair=pair,
        source_region=old.region,
        target_region=target_region,
        source=old.name,
        source_answers=source is not None,
        target=target.name,
        rpo_budget_seconds=_rpo_budget(env),
        checks=checks,
        switchover_open=not closed("switchover"),
        failover_open=not closed("failover"),
        failover_needs_override=not lag.ok,
    )
