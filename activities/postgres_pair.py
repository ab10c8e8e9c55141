"""Activities on the PostgreSQL pair of an environment: see, fence, promote, rewind.

The inventory says which node was built as primary; after a switchover that
is no longer true, so these activities act on what the nodes say of
themselves (``pg_is_in_recovery()``), never on the inventory's role.

Fencing stops the old primary and leaves a ``standby.signal`` in its data
directory: started again by anyone, it comes up read-only, as a standby. A
node without host access is fenced through SQL instead (read-only by
default, its client sessions ended), and one that neither answers nor can be
reached is reported unconfirmed: the workflow then needs a written override.

Only hosts reached as ``local`` run commands today (see activities.hosts).
"""

from __future__ import annotations

import asyncio
import os
import pwd
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hosts import CommandError, as_user, beat, local_user, run_command
from activities.postgres import node_conninfo
from odoo_dr.cutover import (
    DataLoss,
    Fencing,
    NodeState,
    PairState,
    Promotion,
    Reprotection,
)
from odoo_dr.errors import BAD_INPUT, PRECONDITION_FAILED
from odoo_dr.inventory import Environment, Inventory, PostgresNode
from odoo_dr.lsn import lsn_to_int
from odoo_dr.secrets import resolve_secret

POLL_SECONDS = 0.05


async def _beat() -> None:
    beat()


STREAMING_TIMEOUT_SECONDS = 120

NODE_FACTS = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
            ELSE pg_current_wal_lsn() END::text,
       pg_last_wal_receive_lsn()::text,
       CASE WHEN NOT pg_is_in_recovery() THEN ('x' || substr(
            pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
       (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver
         WHERE status = 'streaming'),
       current_setting('default_transaction_read_only') = 'on',
       (SELECT last_archived_time FROM pg_stat_archiver),
       (SELECT failed_count FROM pg_stat_archiver),
       CASE WHEN pg_is_in_recovery() THEN pg_last_xact_replay_timestamp()
            ELSE (pg_last_committed_xact()).timestamp END
"""
# pg_walfile_name() refuses during recovery; the receiver's timeline is used.
STANDBY_TIMELINE = "SELECT received_tli FROM pg_stat_wal_receiver"
INSTALLED_MODULES = (
    "SELECT name, coalesce(latest_version, '') FROM ir_module_module "
    "WHERE state = 'installed'"
)


class PairActivities:
    """Seeing and changing which node of the pair takes writes."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def inspect_pair(self, environment: str) -> PairState:
        """Read every node's role, position, timeline, streaming and archiving.

        Changes nothing (read-only queries). Retrying is safe. A node that
        does not answer is reported unreachable, not raised.
        """
        env = self._inventory.environment(environment)
        nodes = await asyncio.gather(
            *(_inspect(env, region, n) for region, n in _nodes(env))
        )
        return PairState(
            environment=env.name,
            nodes=list(nodes),
            lag_bytes=_lag_bytes(nodes),
            lag_seconds=_lag_seconds(nodes),
        )

    @activity.defn
    async def fence_primary(
        self, environment: str, node: str, planned: bool
    ) -> Fencing:
        """Keep ``node`` from taking writes: stop it, so it restarts as standby.

        Planned: a fast shutdown, which sends every WAL record to the
        connected standbys first; the shutdown checkpoint is the final LSN
        the standby must replay. Unplanned: a fast shutdown, else an
        immediate one; a node already down gets the ``standby.signal`` so
        that it cannot come back writable. Without host access the node is
        made read-only through SQL. Retrying is safe: a stopped node is
        left stopped and its final LSN read again. Gives up (non-retryable)
        on a planned fence that cannot stop the node.
        """
        env = self._inventory.environment(environment)
        target = _node(env, node)
        if target.data_dir is None:
            return await _fence_by_sql(env, target, planned)
        user = local_user(target.access)
        was_running = await _running(env, target, user)
        if was_running:
            await _stop(env, target, user, planned)
        await _write_file(target.data_dir / "standby.signal", "", user)
        control = await _controldata(env, target, user)
        clean = control.get("Database cluster state") == "shut down"
        fencing = Fencing(
            node=target.name,
            method="stopped" if was_running else "already_down",
            confirmed=True,
            final_lsn=control.get("Latest checkpoint location") if clean else None,
            was_running=was_running,
            detail=f"cluster state: {control.get('Database cluster state')}",
        )
        activity.logger.info(
            "primary %s fenced (%s), final checkpoint %s",
            target.name,
            fencing.method,
            fencing.final_lsn,
        )
        return fencing

    @activity.defn
    async def unfence_primary(self, environment: str, fencing: Fencing) -> str:
        """Undo a fence before any promotion: the old primary serves again.

        Removes the ``standby.signal`` the fence wrote and starts the node
        if it was running before; resets a read-only fence. Retrying is
        safe: a node already serving is left alone.
        """
        env = self._inventory.environment(environment)
        target = _node(env, fencing.node)
        if fencing.method == "read_only":
            await _set_read_only(env, target, False)
            return f"{target.name}: read-only setting reset"
        if target.data_dir is None or fencing.method == "unreachable":
            return f"{target.name}: nothing to undo"
        user = local_user(target.access)
        await run_command(
            ["rm", "-f", target.data_dir / "standby.signal"],
            user=user,
            what=f"removal of {target.name}'s standby.signal",
        )
        if fencing.was_running and not await _running(env, target, user):
            await _start(env, target, user)
            return f"{target.name}: started again as primary"
        return f"{target.name}: standby.signal removed"

    @activity.defn
    async def wait_replayed(self, environment: str, node: str, lsn: str) -> str:
        """Wait until standby ``node`` has replayed past ``lsn``; its position.

        Changes nothing. Heartbeats the replay position; the workflow's
        timeout bounds the wait. A node that left recovery is refused
        (non-retryable): it would not replay anything more.
        """
        env = self._inventory.environment(environment)
        target = _node(env, node)
        wanted = lsn_to_int(lsn)
        async with await _connect(target) as conn:
            while True:
                row = await (
                    await conn.execute(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
                    )
                ).fetchone()
                assert row is not None
                in_recovery, replayed = row
                if replayed and lsn_to_int(replayed) > wanted:
                    return str(replayed)
                if not in_recovery:
                    raise ApplicationError(
                        f"{node} is no longer a standby; it replayed up to "
                        f"{replayed}, short of {lsn}",
                        type=PRECONDITION_FAILED,
                        non_retryable=True,
                    )
                beat(replayed)
                await asyncio.sleep(POLL_SECONDS)

    @activity.defn
    async def promote_standby(self, environment: str, node: str) -> Promotion:
        """Promote standby ``node`` to primary (``pg_promote``, waiting for it).

        Retrying is safe: a node already out of recovery is reported as
        already primary. A promotion that does not finish within a minute
        raises, and Temporal retries.
        """
        env = self._inventory.environment(environment)
        target = _node(env, node)
        async with await _connect(target) as conn:
            row = await (
                await conn.execute(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
                )
            ).fetchone()
            already = not (row and row[0])
            replayed = row[1] if row else None
            if not already:
                done = await (
                    await conn.execute("SELECT pg_promote(true, 60)")
                ).fetchone()
                if not (done and done[0]):
                    raise ApplicationError(f"{node} did not finish promotion in 60 s")
            row = await (
                await conn.execute(
                    "SELECT pg_current_wal_lsn()::text, ('x' || substr(pg_walfile_name("
                    "pg_current_wal_lsn()), 1, 8))::bit(32)::int"
                )
            ).fetchone()
        assert row is not None
        activity.logger.info("standby %s promoted, timeline %s", node, row[1])
        return Promotion(
            node=node,
            already_primary=already,
            timeline=row[1],
            lsn=row[0],
            replayed_lsn=replayed,
            promoted_at=datetime.now(UTC),
        )

    @activity.defn
    async def measure_loss(
        self, environment: str, node: str, fork_lsn: str
    ) -> DataLoss:
        """Count what the old primary ``node`` committed after ``fork_lsn``.

        Reads the node's WAL with pg_waldump (nothing is changed; the node
        must be down). Retrying is safe. A node whose data directory cannot
        be read is reported as not measured, not raised.
        """
        env = self._inventory.environment(environment)
        old = _node(env, node)
        if old.data_dir is None or await _running(env, old, local_user(old.access)):
            return DataLoss(
                node=node,
                measured=False,
                fork_lsn=fork_lsn,
                detail="its WAL cannot be read here (no data_dir, or it runs)",
            )
        return await _waldump_loss(env, old, fork_lsn)

    @activity.defn
    async def reprotect_node(
        self, environment: str, node: str, source: str
    ) -> Reprotection:
        """Turn the old primary ``node`` into a streaming standby of ``source``.

        Stops ``node`` if it runs, finishes a crashed node's recovery in
        single-user mode, checkpoints ``source`` and makes sure its slot
        for ``node`` exists, rewinds ``node`` with pg_rewind, writes its
        standby settings (keeping its own port and settings) and starts it,
        then waits until it streams. Retrying is safe: a node already
        streaming from ``source`` is left alone, and every step checks
        before it acts. Gives up (non-retryable) when pg_rewind fails: the
        node must then be rebuilt from a fresh base backup, by a person.
        """
        env = self._inventory.environment(environment)
        old, new = _node(env, node), _node(env, source)
        if old.data_dir is None:
            raise ApplicationError(
                f"{node} has no data_dir in the inventory; it cannot be rewound",
                type=BAD_INPUT,
                non_retryable=True,
            )
        state = await _inspect(env, _region(env, old), old)
        if state.in_recovery and state.streaming_from == f"{new.host}:{new.port}":
            return Reprotection(
                node=node, source=source, method="already_standby", streaming=True
            )
        user = local_user(old.access)
        if await _running(env, old, user):
            await _stop(env, old, user, planned=True)
        await _finish_crash_recovery(env, old, user)
        slot = await _prepare_source(env, new, old)
        # pg_rewind copies the source's configuration files: keep the node's.
        own = _read_config(old.data_dir)
        rewound = await _rewind(env, old, new, user)
        await _restore_config(old.data_dir, own, user)
        await _write_standby_settings(env, old, new, slot, own, user)
        await _start(env, old, user)
        await _wait_streaming(env, old, new)
        return Reprotection(
            node=node,
            source=source,
            method="rewind" if rewound else "no_rewind_needed",
            streaming=True,
            detail=f"streaming from {new.name} through slot {slot}",
        )


# Seeing the nodes.


def _nodes(env: Environment) -> list[tuple[str, PostgresNode]]:
    return [(r, n) for r, region in env.regions.items() for n in region.postgres]


def _node(env: Environment, name: str) -> PostgresNode:
    for _, node in _nodes(env):
        if node.name == name:
            return node
    known = ", ".join(n.name for _, n in _nodes(env))
    raise ApplicationError(
        f"environment {env.name} has no PostgreSQL node {name!r} (known: {known})",
        type=BAD_INPUT,
        non_retryable=True,
    )


def _region(env: Environment, node: PostgresNode) -> str:
    return next(r for r, n in _nodes(env) if n.name == node.name)


async def _connect(
    node: PostgresNode, dbname: str = "postgres"
) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(
        node_conninfo(node, dbname), autocommit=True
    )


async def _inspect(env: Environment, region: str, node: PostgresNode) -> NodeState:
    try:
        async with await _connect(node) as conn:
            row = await (await conn.execute(NODE_FACTS)).fetchone()
            assert row is not None
            timeline = row[3]
            if row[0]:
                tli = await (await conn.execute(STANDBY_TIMELINE)).fetchone()
                timeline = tli[0] if tli else None
    except (psycopg.Error, OSError) as exc:
        return NodeState(
            name=node.name,
            region=region,
            host=node.host,
            port=node.port,
            reachable=False,
            error=_first_line(exc),
        )
    return NodeState(
        name=node.name,
        region=region,
        host=node.host,
        port=node.port,
        reachable=True,
        in_recovery=row[0],
        wal_lsn=row[1],
        receive_lsn=row[2],
        timeline=timeline,
        streaming_from=row[4],
        read_only=row[5],
        archived_at=row[6],
        archive_failures=row[7],
        last_commit=row[8],
        modules=await _modules(env, node),
    )


async def _modules(env: Environment, node: PostgresNode) -> dict[str, str]:
    """Installed Odoo modules and versions; empty when Odoo's table is absent."""
    try:
        async with await _connect(node, env.odoo.database) as conn:
            rows = await (await conn.execute(INSTALLED_MODULES)).fetchall()
    except psycopg.Error:
        return {}
    return {name: version for name, version in rows}


def _lag_bytes(nodes: list[NodeState]) -> int | None:
    """Bytes the furthest-behind standby lags its primary, when there is one."""
    primaries = [n for n in nodes if n.reachable and n.in_recovery is False]
    standbys = [n for n in nodes if n.reachable and n.in_recovery and n.wal_lsn]
    if len(primaries) != 1 or not standbys or not primaries[0].wal_lsn:
        return None
    head = lsn_to_int(primaries[0].wal_lsn)
    behind = max(head - lsn_to_int(s.wal_lsn or "0/0") for s in standbys)
    return max(behind, 0)


def _lag_seconds(nodes: list[NodeState]) -> float | None:
    """How much commit time the furthest-behind standby has not replayed.

    The primary's newest commit minus the standby's newest replayed one: the
    span of committed work a failover now would lose. 0 when every standby
    replayed all WAL; None when the primary or a commit time is unknown.
    """
    primaries = [n for n in nodes if n.reachable and n.in_recovery is False]
    standbys = [n for n in nodes if n.reachable and n.in_recovery]
    if len(primaries) != 1 or not standbys:
        return None
    if _lag_bytes(nodes) == 0:
        return 0.0
    newest = primaries[0].last_commit
    replayed = [s.last_commit for s in standbys]
    if newest is None or None in replayed:
        return None
    oldest = min(r for r in replayed if r is not None)
    return max((newest - oldest).total_seconds(), 0.0)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# Changing them.


def _pg(env: Environment, node: PostgresNode, program: str) -> str:
    bindir = node.bindir or env.drill.bindir
    return str(bindir / program) if bindir else program


async def _running(env: Environment, node: PostgresNode, user: str | None) -> bool:
    """Whether pg_ctl finds a server running on the node's data directory."""
    try:
        await run_command(
            [_pg(env, node, "pg_ctl"), "status", "-D", node.data_dir or ""],
            user=user,
            what=f"status of {node.name}",
        )
    except CommandError:
        return False
    return True


async def _stop(
    env: Environment, node: PostgresNode, user: str | None, planned: bool
) -> None:
    assert node.data_dir is not None
    argv: list[str | Path] = [_pg(env, node, "pg_ctl"), "stop", "-w", "-t", "60"]
    argv += ["-D", node.data_dir]
    try:
        await run_command(
            [*argv, "-m", "fast"], user=user, what=f"stop of {node.name}", tick=_beat
        )
    except CommandError as exc:
        if planned:
            raise ApplicationError(
                f"{node.name} did not stop cleanly: {exc}",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            ) from None
        try:
            await run_command(
                [*argv, "-m", "immediate"], user=user, what=f"stop of {node.name}"
            )
        except CommandError:
            # A primary dying as it was fenced: down is what was wanted.
            if await _running(env, node, user):
                raise


async def _start(env: Environment, node: PostgresNode, user: str | None) -> None:
    assert node.data_dir is not None
    log = node.data_dir.parent / f"{node.data_dir.name}.log"
    await run_command(
        [_pg(env, node, "pg_ctl"), "start", "-w", "-t", "120", "-D"]
        + [node.data_dir, "-l", log],
        user=user,
        what=f"start of {node.name}",
        tick=_beat,
    )


async def _controldata(
    env: Environment, node: PostgresNode, user: str | None
) -> dict[str, str]:
    out = await run_command(
        [_pg(env, node, "pg_controldata"), "-D", node.data_dir or ""],
        user=user,
        what=f"pg_controldata of {node.name}",
    )
    pairs = (line.partition(":") for line in out.splitlines())
    return {key.strip(): value.strip() for key, _, value in pairs}


async def _write_file(path: Path, content: str, user: str | None) -> None:
    """Write ``content`` to ``path`` (mode 0600), owned by ``user`` if given."""
    temporary = path.with_name(f".{path.name}.odoo-dr")
    temporary.write_text(content, encoding="utf-8")
    temporary.chmod(0o600)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(temporary, account.pw_uid, account.pw_gid)
    os.replace(temporary, path)


async def _fence_by_sql(env: Environment, node: PostgresNode, planned: bool) -> Fencing:
    if planned:
        raise ApplicationError(
            f"{node.name} has no data_dir in the inventory: a planned switchover "
            "must stop it cleanly to know its final LSN",
            type=BAD_INPUT,
            non_retryable=True,
        )
    try:
        await _set_read_only(env, node, True)
    except (psycopg.Error, OSError) as exc:
        return Fencing(
            node=node.name,
            method="unreachable",
            confirmed=False,
            detail=f"neither stopped nor made read-only: {_first_line(exc)}",
        )
    return Fencing(
        node=node.name,
        method="read_only",
        confirmed=True,
        detail="default_transaction_read_only on; client sessions ended",
    )


async def _set_read_only(env: Environment, node: PostgresNode, on: bool) -> None:
    async with await _connect(node) as conn:
        if on:
            await conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        else:
            await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.execute("SELECT pg_reload_conf()")
        if on:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )


# Measuring loss.


async def _waldump_loss(env: Environment, node: PostgresNode, fork: str) -> DataLoss:
    """Commit records of the node's WAL after ``fork`` (on its own timeline)."""
    assert node.data_dir is not None
    user = local_user(node.access)
    control = await _controldata(env, node, user)
    timeline = control.get("Latest checkpoint's TimeLineID", "1")
    argv = [_pg(env, node, "pg_waldump"), "-p", str(node.data_dir / "pg_wal")]
    argv += ["-s", fork, "-t", timeline]
    process = await asyncio.create_subprocess_exec(
        *as_user(argv, user),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},  # commit times printed in UTC
    )
    out, err = await process.communicate()
    # pg_waldump stops with an error at the end of valid WAL: that is the end.
    records = out.decode(errors="replace").splitlines()
    commits = [_commit_time(line) for line in records if "COMMIT" in line]
    ends = [_record_lsn(line) for line in records]
    end = max((e for e in ends if e), key=lsn_to_int, default=None)
    stamps = sorted(c for c in commits if c is not None)
    problem = err.decode(errors="replace").strip().splitlines()
    return DataLoss(
        node=node.name,
        measured=True,
        fork_lsn=fork,
        end_lsn=end,
        lost_bytes=max(lsn_to_int(end) - lsn_to_int(fork), 0) if end else 0,
        lost_transactions=len(commits),
        first_lost_commit=stamps[0] if stamps else None,
        last_lost_commit=stamps[-1] if stamps else None,
        detail=problem[-1] if problem else "",
    )


def _record_lsn(line: str) -> str | None:
    """The LSN of one pg_waldump line (``... lsn: 0/3000060, prev ...``)."""
    _, found, rest = line.partition(" lsn: ")
    return rest.split(",", 1)[0].strip() if found else None


def _commit_time(line: str) -> datetime | None:
    """The commit time of a pg_waldump COMMIT line, in UTC."""
    _, found, rest = line.partition("COMMIT ")
    if not found:
        return None
    stamp = rest.split(";", 1)[0].strip()
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f %Z").replace(tzinfo=UTC)
    except ValueError:
        return None


# Reprotection.


async def _finish_crash_recovery(
    env: Environment, node: PostgresNode, user: str | None
) -> None:
    """Bring a crashed (not cleanly shut down) node to a clean state.

    pg_rewind wants a clean shutdown. Single-user mode replays the node's
    own WAL and shuts down; it refuses to run with ``standby.signal``, so
    the signal is removed first (the node stays down all along).
    """
    control = await _controldata(env, node, user)
    if control.get("Database cluster state") in ("shut down", "shut down in recovery"):
        return
    assert node.data_dir is not None
    await run_command(
        ["rm", "-f", node.data_dir / "standby.signal"],
        user=user,
        what=f"removal of {node.name}'s standby.signal",
    )
    single: list[str | Path] = [_pg(env, node, "postgres"), "--single"]
    await run_command(
        [*single, "-D", node.data_dir, "-c", "archive_mode=off", "postgres"],
        user=user,
        what=f"crash recovery of {node.name} in single-user mode",
        tick=_beat,
    )


async def _prepare_source(
    env: Environment, source: PostgresNode, standby: PostgresNode
) -> str:
    """Checkpoint the new primary and make sure the standby's slot exists."""
    slot = standby.replication_slot or standby.name.replace("-", "_")
    async with await _connect(source) as conn:
        await conn.execute("CHECKPOINT")
        found = await (
            await conn.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            )
        ).fetchone()
        if not found:
            await conn.execute(
                "SELECT pg_create_physical_replication_slot(%s)", (slot,)
            )
    return slot


async def _rewind(
    env: Environment, node: PostgresNode, source: PostgresNode, user: str | None
) -> bool:
    """Run pg_rewind against ``source``; False when none was needed."""
    password = resolve_secret(source.password) if source.password else ""
    conninfo = psycopg.conninfo.make_conninfo(
        host=source.host, port=source.port, user=source.superuser, dbname="postgres"
    )
    try:
        out = await run_command(
            [_pg(env, node, "pg_rewind"), "-D", node.data_dir or ""]
            + [f"--source-server={conninfo}"],
            user=user,
            what=f"pg_rewind of {node.name} from {source.name}",
            tick=_beat,
            # The password travels in the environment, never on the command line.
            env={"PGPASSWORD": password} if password else None,
        )
    except CommandError as exc:
        raise ApplicationError(
            f"{exc}; rebuild {node.name} from a fresh base backup of {source.name}",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        ) from None
    return "no rewind required" not in out


CONFIG_FILES = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf")
AUTO_CONF = "postgresql.auto.conf"
# Settings of the auto.conf that odoo-dr writes for a standby.
STANDBY_KEYS = ("primary_conninfo", "primary_slot_name")


def _read_config(data_dir: Path) -> dict[str, str]:
    """The node's configuration files, by name (the worker reads them)."""
    found = {}
    for name in (*CONFIG_FILES, AUTO_CONF):
        path = data_dir / name
        if path.exists():
            found[name] = path.read_text(encoding="utf-8")
    return found


async def _restore_config(
    data_dir: Path, files: dict[str, str], user: str | None
) -> None:
    for name in CONFIG_FILES:
        if name in files:
            await _write_file(data_dir / name, files[name], user)


async def _write_standby_settings(
    env: Environment,
    node: PostgresNode,
    source: PostgresNode,
    slot: str,
    own: dict[str, str],
    user: str | None,
) -> None:
    """The node's own auto.conf, plus where and how it streams from."""
    assert node.data_dir is not None
    repl = env.replication
    password = resolve_secret(repl.password) if repl.password else None
    conninfo = psycopg.conninfo.make_conninfo(
        host=source.host,
        port=source.port,
        user=repl.user,
        password=password,
        application_name=node.name,
    )
    kept = [
        line
        for line in own.get(AUTO_CONF, "").splitlines()
        if line.split("=", 1)[0].strip() not in STANDBY_KEYS
    ]
    lines = [
        *kept,
        f"# odoo-dr: standby of {source.name}",
        f"primary_conninfo = {_quoted(conninfo)}",
        f"primary_slot_name = {_quoted(slot)}",
    ]
    await _write_file(node.data_dir / AUTO_CONF, "\n".join(lines) + "\n", user)
    await _write_file(node.data_dir / "standby.signal", "", user)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


async def _wait_streaming(
    env: Environment, node: PostgresNode, source: PostgresNode
) -> None:
    sender = f"{source.host}:{source.port}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAMING_TIMEOUT_SECONDS
    while loop.time() < deadline:
        state = await _inspect(env, _region(env, node), node)
        if state.in_recovery and state.streaming_from == sender:
            return
        beat(state.error or state.wal_lsn)
        await asyncio.sleep(0.2)
    raise ApplicationError(
        f"{node.name} started as a standby but does not stream from {sender}"
    )
