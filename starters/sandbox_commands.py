"""``odoo-dr sandbox ...``: the local sandbox of real services."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from odoo_dr.errors import SandboxError
from sandbox.layout import Layout, Ports, default_home

PORT_OPTIONS = {
    name: "--" + name.replace("_", "-") + "-port" for name in Ports.model_fields
}


def register(commands: Any) -> None:
    """Add the ``sandbox`` command group."""
    sandbox = commands.add_parser("sandbox", help="the local sandbox of real services")
    sandbox.add_argument(
        "--home", type=Path, default=None, help="sandbox folder (default ./.sandbox)"
    )
    verbs = sandbox.add_subparsers(title="sandbox commands", metavar="VERB")

    up = verbs.add_parser("up", help="start Temporal, PostgreSQL A/B, S3, Redis")
    up.add_argument("--pg-bindir", type=Path, help="PostgreSQL server binaries")
    up.add_argument("--redis-server", type=Path, help="path of redis-server")
    for name, option in PORT_OPTIONS.items():
        up.add_argument(option, type=_port, dest=f"port_{name}", help=f"{name} port")
    up.set_defaults(handler=_up)

    status = verbs.add_parser("status", help="health of each part")
    status.set_defaults(handler=_status)

    down = verbs.add_parser("down", help="stop exactly what 'up' started")
    down.add_argument("--purge", action="store_true", help="also delete all data")
    down.set_defaults(handler=_down)

    backup = verbs.add_parser(
        "backup", help="archive the current WAL segment and take a base backup"
    )
    backup.set_defaults(handler=_backup)

    seed = verbs.add_parser("seed", help="build the construction firm's Odoo data")
    seed.add_argument("--scale", type=float, default=1.0, help="1 is about 50 MB")
    seed.add_argument("--seed", type=int, default=42, help="random seed")
    seed.add_argument("--replace", action="store_true", help="drop existing data")
    seed.set_defaults(handler=_seed)

    load = verbs.add_parser("load", help="write site activity with a ledger")
    load.add_argument("--rate", type=float, default=5.0, help="transactions/second")
    load.add_argument("--duration", type=float, default=None, help="seconds")
    load.add_argument("--ledger", type=Path, default=None, help="ledger file")
    load.set_defaults(handler=_load)


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return port


def _home(args: argparse.Namespace) -> Path:
    return (args.home or default_home()).resolve()


def _up(args: argparse.Namespace) -> int:
    from sandbox.control import UpOptions, up
    from sandbox.temporal import temporal_address, ui_url

    ports = {
        name: getattr(args, f"port_{name}")
        for name in PORT_OPTIONS
        if getattr(args, f"port_{name}") is not None
    }
    began = time.monotonic()
    state = up(
        UpOptions(
            home=_home(args),
            pg_bindir=args.pg_bindir,
            redis_server=args.redis_server,
            ports=ports,
        )
    )
    print(f"sandbox up in {time.monotonic() - began:.1f} s: {state.home}")
    print(f"  Temporal      {temporal_address(state.ports)}")
    print(f"  Temporal UI   {ui_url(state.ports)}")
    print(f"  inventory     {Layout(state.home).inventory}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from sandbox.status import sandbox_status

    checks = sandbox_status(_home(args))
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = "ok  " if check.healthy else "FAIL"
        print(f"{mark} {check.name:<{width}}  {check.detail}")
    return 0 if all(c.healthy for c in checks) else 1


def _down(args: argparse.Namespace) -> int:
    from sandbox.control import down

    stopped = down(_home(args), purge=args.purge)
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def _require_state(args: argparse.Namespace) -> tuple[Layout, Any]:
    layout = Layout(_home(args))
    state = layout.read_state()
    if state is None or "pg_primary" not in state.processes:
        raise SandboxError(
            f"no sandbox is up in {layout.home}: run 'odoo-dr sandbox up'"
        )
    return layout, state


def _seed(args: argparse.Namespace) -> int:
    from sandbox.connections import odoo_conninfo
    from sandbox.seed import seed_database

    layout, state = _require_state(args)
    summary = seed_database(
        odoo_conninfo(layout, state.ports.pg_primary),
        scale=args.scale,
        seed=args.seed,
        filestore=layout.filestore,
        replace=args.replace,
    )
    print(summary.model_dump_json(indent=2))
    return _backup(args)


def _backup(args: argparse.Namespace) -> int:
    from sandbox.control import archive_and_back_up

    backup_id = archive_and_back_up(_home(args))
    print(f"WAL archived and base backup {backup_id} taken")
    return 0


def _load(args: argparse.Namespace) -> int:
    from sandbox.connections import odoo_conninfo
    from sandbox.load import run_load

    layout, state = _require_state(args)
    ledger = args.ledger or layout.ledger
    summary = run_load(
        odoo_conninfo(layout, state.ports.pg_primary),
        rate=args.rate,
        duration=args.duration,
        ledger=ledger,
    )
    print(summary.model_dump_json(indent=2))
    return 0
