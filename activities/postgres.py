"""Activities on PostgreSQL servers: production's position, restored copies."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backups import drill_folder
from activities.hosts import CommandError, local_user, run_command
from odoo_dr.errors import BAD_INPUT
from odoo_dr.inventory import Environment, Inventory, LocalAccess, PostgresNode
from odoo_dr.models import PrimaryPosition, RecoveredPoint, RestoredCopy, TableCount
from odoo_dr.secrets import resolve_secret

POLL_SECONDS = 0.5

# The newest commit time a server knows of. pg_last_committed_xact() is empty
# until the server commits (or replays) a transaction after its start, so
# fall back to the commit timestamps of the last thousand transaction ids.
# Both need track_commit_timestamp, which the copy inherits from production.
NEWEST_COMMIT = """
SELECT coalesce(
  (pg_last_committed_xact()).timestamp,
  (SELECT max(pg_xact_commit_timestamp((n.next - i)::text::xid))
     FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next) n,
          generate_series(1, least(1000, n.next - 3)) AS i))
"""


def node_conninfo(
    node: PostgresNode, dbname: str, *, host: str | None = None, port: int | None = None
) -> str:
    """A conninfo for the node's superuser; the password is resolved here."""
    password = resolve_secret(node.password) if node.password else None
    return psycopg.conninfo.make_conninfo(
        host=host or node.host,
        port=port or node.port,
        user=node.superuser,
        password=password,
        dbname=dbname,
        connect_timeout=5,
        application_name="odoo-dr",
    )


def serving_node(env: Environment) -> PostgresNode:
    """The node that serves writes now: after a switchover, not the inventory's.

    The inventory's primary is asked first; the first node that answers and
    is not in recovery wins. When none does, the inventory's primary is
    returned and the caller meets its connection error.
    """
    first = env.primary()
    for node in [first, *(n for n in env.all_nodes() if n is not first)]:
        try:
            with psycopg.connect(node_conninfo(node, "postgres")) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            continue
        if row is not None and not row[0]:
            return node
    return first


def pg_tool(env: Environment, name: str) -> str:
    """A PostgreSQL program from the drill's configured binaries, or PATH."""
    bindir = env.drill.bindir or env.primary().bindir
    return str(bindir / name) if bindir else name


class PostgresActivities:
    """Reading production's position and running a drill's restored copy."""

    def __init__(self, inventory: Inventory) -> None:
        """Bind the activities to the inventory the worker loaded."""
        self._inventory = inventory

    @activity.defn
    async def capture_primary_position(self, environment: str) -> PrimaryPosition:
        """Read the primary's WAL position and newest commit time.

        Changes nothing (read-only queries). Retrying is safe. Transient
        connection faults retry; the workflow's retry policy bounds them.
        """
        env = self._inventory.environment(environment)
        node = await asyncio.to_thread(serving_node, env)
        async with await psycopg.AsyncConnection.connect(
            node_conninfo(node, env.odoo.database), autocommit=True
        ) as conn:
            cur = await conn.execute(
                "SELECT pg_current_wal_lsn()::text, clock_timestamp()"
            )
            row = await cur.fetchone()
            assert row is not None
            lsn, now = row
            newest_commit = await _newest_commit(conn)
        return PrimaryPosition(
            node=node.name, wal_lsn=lsn, newest_commit=newest_commit, observed_at=now
        )

    @activity.defn
    async def start_restored_copy(
        self, environment: str, copy: RestoredCopy
    ) -> RecoveredPoint:
        """Start the restored copy and wait until it has recovered and promoted.

        Starts a PostgreSQL instance on the copy's own data directory (never
        production's). Retrying is safe: a copy already running is not
        started again. Heartbeats the replay position. Gives up when the copy
        stops during recovery (non-retryable: its log says why).
        """
        env = self._inventory.environment(environment)
        user = local_user(LocalAccess(os_user=env.drill.os_user))
        data_dir = Path(copy.data_dir)
        began = asyncio.get_running_loop().time()
        if not await self._copy_answers(env, copy):
            log = drill_folder(env, copy.drill_id) / "postgres.log"
            try:
                await run_command(
                    [pg_tool(env, "pg_ctl"), "start", "-D", data_dir, "-l", log],
                    user=user,
                    what=f"start of drill copy {copy.drill_id}",
                )
            except CommandError as exc:
                raise ApplicationError(
                    f"drill copy {copy.drill_id} did not start: {exc}; see {log}",
                    type=BAD_INPUT,
                    non_retryable=True,
                ) from None
        point = await self._wait_promoted(env, copy)
        point.recovery_seconds = asyncio.get_running_loop().time() - began
        return point

    async def _copy_answers(self, env: Environment, copy: RestoredCopy) -> bool:
        try:
            conn = await psycopg.AsyncConnection.connect(self._copy_conninfo(env, copy))
        except psycopg.OperationalError:
            return False
        await conn.close()
        return True

    def _copy_conninfo(self, env: Environment, copy: RestoredCopy) -> str:
        return node_conninfo(
            env.primary(), env.odoo.database, host=copy.host, port=copy.port
        )

    async def _wait_promoted(
        self, env: Environment, copy: RestoredCopy
    ) -> RecoveredPoint:
        postmaster = Path(copy.data_dir) / "postmaster.pid"
        while True:
            if not postmaster.exists():
                log = drill_folder(env, copy.drill_id) / "postgres.log"
                raise ApplicationError(
                    f"drill copy {copy.drill_id} stopped during recovery; see {log}",
                    type=BAD_INPUT,
                    non_retryable=True,
                )
            try:
                point = await self._recovery_state(env, copy)
            except psycopg.OperationalError:
                point = None  # still starting up, or not yet accepting
            if point is not None:
                return point
            await asyncio.sleep(POLL_SECONDS)

    async def _recovery_state(
        self, env: Environment, copy: RestoredCopy
    ) -> RecoveredPoint | None:
        async with await psycopg.AsyncConnection.connect(
            self._copy_conninfo(env, copy), autocommit=True
        ) as conn:
            cur = await conn.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                " pg_last_xact_replay_timestamp(),"
                " (SELECT timeline_id FROM pg_control_checkpoint())"
            )
            row = await cur.fetchone()
            assert row is not None
            in_recovery, replay_lsn, replayed_commit, timeline = row
            activity.heartbeat({"replay_lsn": replay_lsn, "in_recovery": in_recovery})
            if in_recovery:
                return None
            newest_commit = replayed_commit or await _newest_commit(conn)
        return RecoveredPoint(
            replay_lsn=replay_lsn or "",
            newest_commit=newest_commit,
            timeline=timeline,
            recovery_seconds=0.0,
        )

    @activity.defn
    async def count_tables(
        self, environment: str, copy: RestoredCopy, tables: list[str]
    ) -> list[TableCount]:
        """Count the rows of ``tables`` in the restored copy.

        Changes nothing (read-only). Retrying is safe. A missing table is a
        finding, not an error: it comes back with ``ok`` false and a hint.
        """
        env = self._inventory.environment(environment)
        counts = []
        async with await psycopg.AsyncConnection.connect(
            self._copy_conninfo(env, copy), autocommit=True
        ) as conn:
            for table in tables:
                cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
                exists = await cur.fetchone()
                if not exists or not exists[0]:
                    counts.append(
                        TableCount(
                            table=table,
                            rows=None,
                            ok=False,
                            hint="table missing from the restored copy",
                        )
                    )
                    continue
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                row = await (await conn.execute(query)).fetchone()
                rows = int(row[0]) if row else 0
                hint = "" if rows else "table is empty in the restored copy"
                counts.append(
                    TableCount(table=table, rows=rows, ok=rows > 0, hint=hint)
                )
        return counts

    @activity.defn
    async def teardown_copy(self, environment: str, drill_id: str) -> bool:
        """Stop a drill's copy and delete its folder.

        Only ever touches the drill's own folder under the drill work
        directory. Retrying is safe: a copy already gone is a success.

        Returns:
            True if something was there to remove.
        """
        env = self._inventory.environment(environment)
        user = local_user(LocalAccess(os_user=env.drill.os_user))
        folder = drill_folder(env, drill_id)
        if not folder.exists():
            return False
        data_dir = folder / "pgdata"
        if (data_dir / "postmaster.pid").exists():
            try:
                await run_command(
                    [pg_tool(env, "pg_ctl"), "stop", "-m", "immediate", "-D", data_dir],
                    user=user,
                    what=f"stop of drill copy {drill_id}",
                )
            except CommandError:
                activity.logger.warning("drill copy %s was not running", drill_id)
        shutil.rmtree(folder)
        return True


async def _newest_commit(conn: psycopg.AsyncConnection) -> datetime | None:
    cur = await conn.execute(NEWEST_COMMIT)
    row = await cur.fetchone()
    return row[0] if row else None
