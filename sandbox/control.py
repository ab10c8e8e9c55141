"""``odoo-dr sandbox up | down``: bring the sandbox's real services up and down.

``up`` checks everything it can before it starts anything (binaries, ports,
permissions), so a refused ``up`` leaves nothing behind; if a start fails
midway, what this call started is stopped again. ``up`` is idempotent: a
second call restarts only what is not running, on the recorded ports.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from odoo_dr.errors import SandboxError
from sandbox import objectstore, postgres, redis_server, temporal
from sandbox.inventory_file import write_app_orders, write_sandbox_inventory
from sandbox.layout import Layout, Ports, ProcessRecord, SandboxState
from sandbox.processes import (
    chown_to,
    is_same_process,
    pick_free_ports,
    port_is_free,
    process_start_time,
    require_free_port,
    run,
    service_user,
    start_detached,
    stop_process,
    wait_for_port,
)

logger = logging.getLogger(__name__)

# Start order; down stops in reverse.
COMPONENTS = ("s3", "pg_primary", "temporal", "pg_standby", "redis")
PORTS_OF = {
    "s3": ("s3",),
    "pg_primary": ("pg_primary",),
    "temporal": ("temporal", "temporal_ui", "temporal_http", "temporal_metrics"),
    "pg_standby": ("pg_standby",),
    "redis": ("redis",),
}
SECRETS = (
    "postgres-password",
    "odoo-password",
    "replication-password",
    "redis-password",
    "s3-access-key-id",
    "s3-secret-access-key",
)


@dataclass
class UpOptions:
    """What ``sandbox up`` was asked for."""

    home: Path
    pg_bindir: Path | None = None
    redis_server: Path | None = None
    ports: dict[str, int] = field(default_factory=dict)


@dataclass
class _Binaries:
    pg_bindir: Path
    redis_server: Path
    temporal: Path


def up(options: UpOptions, progress: Callable[[str], None] = print) -> SandboxState:
    """Bring the sandbox up, or complete it if part of it is down.

    Raises:
        SandboxError: a check failed (nothing was started) or a start failed
            (what this call started has been stopped again).
    """
    layout = Layout(options.home)
    binaries = _find_binaries(options)
    user = service_user()
    previous = layout.read_state()
    ports = _choose_ports(previous, options.ports)
    running = _running_components(previous)
    for component in COMPONENTS:
        if component not in running:
            for name in PORTS_OF[component]:
                require_free_port(getattr(ports, name), name)
    if len(running) == len(COMPONENTS):
        progress(f"sandbox already up in {layout.home}")
        assert previous is not None
        return previous

    fresh = previous is None
    state = previous or SandboxState(home=layout.home, ports=ports, service_user=user)
    state.processes = {k: v for k, v in state.processes.items() if k in running}
    started: list[str] = []
    try:
        _prepare_home(layout, user)
        _check_service_user_access(layout, user)
        for component in COMPONENTS:
            if component in running:
                continue
            progress(f"starting {component}")
            record = _START[component](layout, binaries, ports, user)
            state.processes[component] = record
            started.append(component)
            layout.write_state(state)
        _finish(layout, binaries, state, user, progress)
    except BaseException:
        logger.error("sandbox up failed; stopping what it started: %s", started)
        for component in reversed(started):
            _stop_component(component, state.processes[component])
        if fresh:
            shutil.rmtree(layout.home, ignore_errors=True)
        else:
            for component in started:
                state.processes.pop(component, None)
            layout.write_state(state)
        raise
    return state


def down(home: Path, purge: bool = False) -> list[str]:
    """Stop, by recorded pid, every process ``up`` started; return their names.

    Raises:
        SandboxError: nothing is up in ``home``.
    """
    layout = Layout(home)
    state = layout.read_state()
    if state is None or not state.processes:
        raise SandboxError(f"nothing to stop: no sandbox is up in {layout.home}")
    stopped = []
    for component in reversed(COMPONENTS):
        record = state.processes.get(component)
        if record and _stop_component(component, record):
            stopped.append(component)
    # A runbook (switchover, failback) may have restarted a cluster since
    # up recorded its pid: stop whatever postmaster runs on the data dirs.
    for data_dir in (layout.primary_data, layout.standby_data):
        pid = _postmaster_of(data_dir)
        if pid is not None and stop_process(
            pid, None, data_dir.name, signum=signal.SIGINT, timeout=30
        ):
            stopped.append(f"postgres of {data_dir.name}")
    state.processes = {}
    layout.write_state(state)
    _wait_ports_free(state.ports)
    if purge:
        shutil.rmtree(layout.home, ignore_errors=True)
    return stopped


def _find_binaries(options: UpOptions) -> _Binaries:
    return _Binaries(
        pg_bindir=postgres.find_pg_bindir(options.pg_bindir),
        redis_server=redis_server.find_redis_server(options.redis_server),
        temporal=temporal.temporal_cli(),
    )


def _choose_ports(previous: SandboxState | None, requested: dict[str, int]) -> Ports:
    names = list(Ports.model_fields)
    unknown = set(requested) - set(names)
    if unknown:
        raise SandboxError(f"unknown port names: {', '.join(sorted(unknown))}")
    if previous is not None:
        for name, port in requested.items():
            recorded = getattr(previous.ports, name)
            if port != recorded:
                raise SandboxError(
                    f"the sandbox in {previous.home} uses port {recorded} for "
                    f"{name}; run 'odoo-dr sandbox down' before changing it"
                )
        return previous.ports
    if len(set(requested.values())) != len(requested):
        raise SandboxError("two components were given the same port")
    free = iter(pick_free_ports(len(names), taken=set(requested.values())))
    return Ports(**{name: requested.get(name) or next(free) for name in names})


def _running_components(state: SandboxState | None) -> set[str]:
    if state is None:
        return set()
    return {
        name
        for name, record in state.processes.items()
        if is_same_process(record.pid, record.started)
    }


def _prepare_home(layout: Layout, user: str | None) -> None:
    for folder in (layout.home, layout.logs, layout.bin, layout.run, layout.pg):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (
        layout.temporal_db.parent,
        layout.redis_dir,
        layout.filestore,
        layout.drills,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    for folder in (layout.run, layout.pg, layout.drills, layout.logs):
        chown_to(folder, user)
    layout.secrets.mkdir(mode=0o700, exist_ok=True)
    chown_to(layout.secrets, user)
    for name in SECRETS:
        _write_secret(layout.secret(name), secrets.token_urlsafe(24), user)
    _write_derived_secrets(layout, user)


def _write_secret(path: Path, value: str, user: str | None) -> None:
    if path.exists():
        return
    path.touch(mode=0o600)
    path.write_text(value + "\n", encoding="utf-8")
    chown_to(path, user)


def _write_derived_secrets(layout: Layout, user: str | None) -> None:
    def read(name: str) -> str:
        return layout.secret(name).read_text().strip()

    pgpass = layout.secret("pgpass")
    if not pgpass.exists():
        lines = [
            f"127.0.0.1:*:*:{role}:{read(secret)}"
            for role, secret in (
                ("postgres", "postgres-password"),
                ("replicator", "replication-password"),
                ("odoo", "odoo-password"),
            )
        ]
        _write_secret(pgpass, "\n".join(lines), user)
    _write_secret(
        layout.secret("aws-credentials"),
        "[default]\n"
        f"aws_access_key_id = {read('s3-access-key-id')}\n"
        f"aws_secret_access_key = {read('s3-secret-access-key')}",
        user,
    )


def _check_service_user_access(layout: Layout, user: str | None) -> None:
    """Refuse early when the postgres account cannot reach what it must run."""
    if user is None:
        return
    archive = objectstore.venv_bin("barman-cloud-wal-archive")
    for path in (archive, layout.home):
        try:
            run(["test", "-x", path], user=user, what=f"access check of {path}")
        except SandboxError:
            raise SandboxError(
                f"user {user} cannot reach {path}: keep the checkout, its .venv "
                f"and the sandbox home where {user} can read (not under /root)"
            ) from None


def _start_s3(
    layout: Layout, b: _Binaries, ports: Ports, user: str | None
) -> ProcessRecord:
    pid = start_detached(
        objectstore.s3_command(ports.s3), log_file=layout.log("s3"), cwd=layout.home
    )
    wait_for_port(ports.s3, 30, "the S3 server")
    objectstore.create_bucket(layout, ports.s3)
    objectstore.write_archive_script(layout, ports.s3)
    return ProcessRecord(pid=pid, started=process_start_time(pid))


def _start_primary(
    layout: Layout, b: _Binaries, ports: Ports, user: str | None
) -> ProcessRecord:
    if not (layout.primary_data / "PG_VERSION").exists():
        postgres.init_primary(layout, b.pg_bindir, ports.pg_primary, user)
    pid = postgres.start_cluster(
        b.pg_bindir, layout.primary_data, layout.log("pg-region-a"), user, "primary"
    )
    postgres.create_odoo_roles(layout, ports.pg_primary)
    return ProcessRecord(pid=pid, started=process_start_time(pid))


def _start_temporal(
    layout: Layout, b: _Binaries, ports: Ports, user: str | None
) -> ProcessRecord:
    pid = start_detached(
        temporal.temporal_command(b.temporal, layout, ports),
        log_file=layout.log("temporal"),
        cwd=layout.home,
    )
    return ProcessRecord(pid=pid, started=process_start_time(pid))


def _start_standby(
    layout: Layout, b: _Binaries, ports: Ports, user: str | None
) -> ProcessRecord:
    if not objectstore.list_backups(layout, ports.s3):
        # The first base backup; a restarted in-memory S3 server also needs one.
        objectstore.take_base_backup(layout, ports.s3, ports.pg_primary, user)
    if not (layout.standby_data / "PG_VERSION").exists():
        postgres.make_standby(
            layout, b.pg_bindir, ports.pg_primary, ports.pg_standby, user
        )
    pid = postgres.start_cluster(
        b.pg_bindir, layout.standby_data, layout.log("pg-region-b"), user, "standby"
    )
    return ProcessRecord(pid=pid, started=process_start_time(pid))


def _start_redis(
    layout: Layout, b: _Binaries, ports: Ports, user: str | None
) -> ProcessRecord:
    conf = redis_server.write_redis_config(layout, ports.redis)
    pid = start_detached(
        redis_server.redis_command(b.redis_server, conf),
        log_file=layout.log("redis"),
        cwd=layout.redis_dir,
    )
    wait_for_port(ports.redis, 30, "Redis")
    return ProcessRecord(pid=pid, started=process_start_time(pid))


_START = {
    "s3": _start_s3,
    "pg_primary": _start_primary,
    "temporal": _start_temporal,
    "pg_standby": _start_standby,
    "redis": _start_redis,
}


def _finish(
    layout: Layout,
    b: _Binaries,
    state: SandboxState,
    user: str | None,
    progress: Callable[[str], None],
) -> None:
    wait_for_port(state.ports.temporal, 60, "the Temporal dev server")
    wait_for_port(state.ports.temporal_ui, 60, "the Temporal web UI")
    if not objectstore.list_backups(layout, state.ports.s3):
        progress("taking a base backup")
        objectstore.take_base_backup(
            layout, state.ports.s3, state.ports.pg_primary, user
        )
    write_sandbox_inventory(layout, state, b.pg_bindir)
    write_app_orders(layout, state)
    layout.write_state(state)


def _postmaster_of(data_dir: Path) -> int | None:
    """The pid of the postmaster serving ``data_dir``, if one runs.

    postmaster.pid may name a pid since reused by another program (after a
    crash): the process must be a postgres started on this data directory.
    """
    pid = postgres.postmaster_pid(data_dir)
    if pid is None:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    ours = any(part.endswith(b"postgres") for part in command[:1])
    return pid if ours and str(data_dir).encode() in command else None


def _stop_component(component: str, record: ProcessRecord) -> bool:
    # PostgreSQL's fast shutdown is SIGINT: sessions end, nothing committed is lost.
    signum = signal.SIGINT if component.startswith("pg_") else signal.SIGTERM
    return stop_process(
        record.pid, record.started, component, signum=signum, timeout=30
    )


def _wait_ports_free(ports: Ports, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    for name, port in ports.described().items():
        while not port_is_free(port):
            if time.monotonic() > deadline:
                raise SandboxError(f"port {port} ({name}) still in use after down")
            time.sleep(0.1)


def archive_current_wal(home: Path, timeout: float = 300) -> str:
    """Close the primary's current WAL segment and wait until it is archived.

    What ``archive_timeout`` does on its own after a minute, done now, so
    that the object store holds every commit made so far. Returns the
    segment's name.

    Raises:
        SandboxError: the sandbox is not up, or archiving does not catch up.
    """
    import psycopg

    layout, state = _running_state(home)
    conninfo = postgres.superuser_conninfo(layout, state.ports.pg_primary)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        segment = str(row[0]) if row else ""
        deadline = time.monotonic() + timeout
        while True:
            archived = conn.execute(
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver"
            ).fetchone()
            if archived and archived[0][:24] >= segment:
                return segment
            if time.monotonic() > deadline:
                raise SandboxError(f"WAL segment {segment} not archived in {timeout} s")
            time.sleep(0.2)


def archive_and_back_up(home: Path, timeout: float = 300) -> str:
    """Archive the current WAL segment, then take a base backup.

    What a nightly backup job does after a day's work: afterwards the object
    store holds everything committed so far. Returns the new backup's id.

    Raises:
        SandboxError: the sandbox is not up, or archiving does not catch up.
    """
    archive_current_wal(home, timeout)
    layout, state = _running_state(home)
    before = {b["backup_id"] for b in objectstore.list_backups(layout, state.ports.s3)}
    objectstore.take_base_backup(
        layout, state.ports.s3, state.ports.pg_primary, state.service_user
    )
    after = objectstore.list_backups(layout, state.ports.s3)
    new = [b["backup_id"] for b in after if b["backup_id"] not in before]
    return new[-1] if new else after[-1]["backup_id"]


def _running_state(home: Path) -> tuple[Layout, SandboxState]:
    layout = Layout(home)
    state = layout.read_state()
    if state is None or "pg_primary" not in state.processes:
        raise SandboxError(f"no sandbox is up in {layout.home}")
    return layout, state
