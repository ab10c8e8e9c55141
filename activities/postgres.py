"""Activities on PostgreSQL servers: production's position, restored copies."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.backups import drill_folder
from activities.hosts import CommandError, local_user, run_command
from odoo_dr.errors import BAD_INPUT, PRECONDITION_FAILED
from odoo_dr.inventory import Environment, Inventory, LocalAccess, PostgresNode
from odoo_dr.models import (
    IsolatedCopy,
    Neutralization,
    PrimaryPosition,
    RecoveredPoint,
    RestoredCopy,
    TableCount,
)
from odoo_dr.secrets import resolve_secret

POLL_SECONDS = 0.1
DRILL_ROLE = "odoo_dr_drill"
DRILL_PASSWORD = "drill-password"
# The copy's access rules once neutralized: its socket as before, and over
# TCP the drill role alone. Production's roles (Odoo's included) stay out.
ISOLATED_HBA = (
    "# odoo-dr drill copy, neutralized: only the drill role connects over TCP\n"
    "local all all trust\n"
    f"host all {DRILL_ROLE} all scram-sha-256\n"
)

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
                "SELECT pg_current_wal_lsn()::text, clock_timestamp(), "
                "to_regclass('ir_config_parameter') IS NOT NULL"
            )
            row = await cur.fetchone()
            assert row is not None
            lsn, now, odoo = row
            newest_commit = await _newest_commit(conn)
            # Odoo's own id of the database, which the copy must carry; none
            # when the database is not Odoo's (validation then says so).
            database_uuid = await _database_uuid(conn) if odoo else None
        return PrimaryPosition(
            node=node.name,
            wal_lsn=lsn,
            newest_commit=newest_commit,
            observed_at=now,
            database_uuid=database_uuid,
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
        if copy.isolated:
            return copy_conninfo(env, copy.drill_id, copy.host, copy.port)
        return socket_conninfo(env, copy)

    @activity.defn
    async def isolate_copy(self, environment: str, copy: RestoredCopy) -> IsolatedCopy:
        """Neutralize the copy, then open it to its drill role alone.

        Until now the copy answers only on its private socket. Through it,
        the copy's Odoo crons, outgoing and incoming mail servers and payment
        providers are switched off (as Odoo's own neutralization does); a
        drill role gets a generated password (kept in the drill's 0600 folder,
        never returned); and the access rules are swapped for ones that let
        only that role in over TCP. Retrying is safe: the updates are
        idempotent and the password, once generated, is reused. Gives up
        (non-retryable) when the copy is not an Odoo database.
        """
        env = self._inventory.environment(environment)
        folder = drill_folder(env, copy.drill_id)
        password = _drill_password(folder)
        async with await psycopg.AsyncConnection.connect(
            socket_conninfo(env, copy), autocommit=True
        ) as conn:
            neutralized = await _neutralize(conn, copy)
            await _create_drill_role(conn, password)
            (Path(copy.data_dir) / "pg_hba.conf").write_text(ISOLATED_HBA)
            await conn.execute("SELECT pg_reload_conf()")
        isolated = copy.model_copy(update={"isolated": True})
        await _wait_for_role(env, isolated)
        activity.logger.info(
            "drill copy %s neutralized (%d crons off) and open to %s only",
            copy.drill_id,
            len(neutralized.crons_disabled),
            DRILL_ROLE,
        )
        where = f"{copy.host}:{copy.port}, role {DRILL_ROLE} only"
        return IsolatedCopy(
            restored=isolated,
            neutralization=neutralized.model_copy(update={"listening": where}),
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


def socket_conninfo(env: Environment, copy: RestoredCopy) -> str:
    """The copy's private socket (in its 0700 drill folder), as superuser."""
    return psycopg.conninfo.make_conninfo(
        host=str(drill_folder(env, copy.drill_id)),
        port=copy.port,
        user=env.primary().superuser,
        dbname=env.odoo.database,
        connect_timeout=5,
        application_name="odoo-dr",
    )


def copy_conninfo(
    env: Environment, drill_id: str, host: str, port: int, dbname: str | None = None
) -> str:
    """An isolated drill copy over TCP, as its drill role.

    Raises:
        ApplicationError: the drill has no password (not isolated yet, or
            torn down); non-retryable.
    """
    secret = drill_folder(env, drill_id) / DRILL_PASSWORD
    try:
        password = secret.read_text(encoding="utf-8").strip()
    except OSError:
        raise ApplicationError(
            f"drill copy {drill_id} has no drill role password: it is not "
            "isolated yet, or it was torn down",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        ) from None
    return psycopg.conninfo.make_conninfo(
        host=host,
        port=port,
        user=DRILL_ROLE,
        password=password,
        dbname=dbname or env.odoo.database,
        connect_timeout=5,
        application_name="odoo-dr",
    )


def _drill_password(folder: Path) -> str:
    """The drill role's password: generated once, kept 0600 in the folder."""
    path = folder / DRILL_PASSWORD
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


async def _neutralize(
    conn: psycopg.AsyncConnection, copy: RestoredCopy
) -> Neutralization:
    present = {
        table: await _exists(conn, table)
        for table in ("ir_cron", "ir_mail_server", "fetchmail_server")
    }
    if not present["ir_cron"] or not await _exists(conn, "ir_config_parameter"):
        raise ApplicationError(
            f"drill copy {copy.drill_id} is not an Odoo database "
            "(no ir_cron or ir_config_parameter): nothing to neutralize",
            type=BAD_INPUT,
            non_retryable=True,
        )
    crons = await conn.execute(
        "UPDATE ir_cron SET active = false WHERE active RETURNING cron_name"
    )
    disabled = [str(name) for (name,) in await crons.fetchall()]
    # A retry finds them off already: name every cron that is off now.
    off = await conn.execute("SELECT cron_name FROM ir_cron WHERE NOT active")
    disabled = sorted({*disabled, *(str(n) for (n,) in await off.fetchall())})
    return Neutralization(
        crons_disabled=disabled,
        mail_servers_disabled=await _switch_off(conn, "ir_mail_server", present),
        fetchmail_servers_disabled=await _switch_off(conn, "fetchmail_server", present),
        payment_providers_disabled=await _disable_providers(conn),
        drill_role=DRILL_ROLE,
        listening="",
    )


async def _switch_off(
    conn: psycopg.AsyncConnection, table: str, present: dict[str, bool]
) -> int:
    if not present[table]:
        return 0
    query = sql.SQL("UPDATE {} SET active = false WHERE active").format(
        sql.Identifier(table)
    )
    return (await conn.execute(query)).rowcount


async def _disable_providers(conn: psycopg.AsyncConnection) -> int:
    if not await _exists(conn, "payment_provider"):
        return 0
    cur = await conn.execute(
        "UPDATE payment_provider SET state = 'disabled' WHERE state <> 'disabled'"
    )
    return cur.rowcount


async def _exists(conn: psycopg.AsyncConnection, table: str) -> bool:
    row = await (
        await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    ).fetchone()
    return bool(row and row[0])


async def _create_drill_role(conn: psycopg.AsyncConnection, password: str) -> None:
    """The drill role, superuser of the copy, with a SCRAM verifier of ``password``.

    The verifier is computed by libpq on this side, so the clear password is
    never in a statement the server could log.
    """
    verifier = conn.pgconn.encrypt_password(
        password.encode(), DRILL_ROLE.encode(), b"scram-sha-256"
    ).decode()
    row = await (
        await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (DRILL_ROLE,))
    ).fetchone()
    verb = "ALTER" if row else "CREATE"
    await conn.execute(
        sql.SQL(verb + " ROLE {} WITH SUPERUSER LOGIN PASSWORD {}").format(
            sql.Identifier(DRILL_ROLE), sql.Literal(verifier)
        )
    )


async def _wait_for_role(env: Environment, copy: RestoredCopy) -> None:
    """Wait until the reloaded access rules let the drill role in over TCP."""
    conninfo = copy_conninfo(env, copy.drill_id, copy.host, copy.port)
    for _ in range(50):
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo)
        except psycopg.OperationalError:
            await asyncio.sleep(0.1)
            continue
        await conn.close()
        return
    raise ApplicationError(
        f"drill copy {copy.drill_id} does not let its drill role in after the reload"
    )


async def _newest_commit(conn: psycopg.AsyncConnection) -> datetime | None:
    cur = await conn.execute(NEWEST_COMMIT)
    row = await cur.fetchone()
    return row[0] if row else None


async def _database_uuid(conn: psycopg.AsyncConnection) -> str | None:
    cur = await conn.execute(
        "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
    )
    row = await cur.fetchone()
    return row[0] if row else None
