"""Where the starters find Temporal, its UI and the inventory.

An explicit option wins, then an environment variable, then the sandbox in
the working folder (so that the sandbox works with no settings at all).
"""

from __future__ import annotations

import os
from pathlib import Path

from odoo_dr.errors import InventoryError
from odoo_dr.inventory import Inventory, load_inventory
from sandbox.layout import Layout, default_home
from sandbox.temporal import temporal_address, ui_url

DEFAULT_ADDRESS = "127.0.0.1:7233"


def temporal_target(explicit: str | None = None) -> str:
    """The Temporal frontend address to use."""
    if explicit:
        return explicit
    if os.environ.get("ODOO_DR_TEMPORAL_ADDRESS"):
        return os.environ["ODOO_DR_TEMPORAL_ADDRESS"]
    state = Layout(default_home()).read_state()
    return temporal_address(state.ports) if state else DEFAULT_ADDRESS


def temporal_ui(explicit: str | None = None) -> str | None:
    """The Temporal web UI's base address, if known."""
    if explicit:
        return explicit
    if os.environ.get("ODOO_DR_TEMPORAL_UI"):
        return os.environ["ODOO_DR_TEMPORAL_UI"]
    state = Layout(default_home()).read_state()
    return ui_url(state.ports) if state else None


def inventory_path(explicit: Path | None = None) -> Path:
    """The inventory file to read.

    Raises:
        InventoryError: none was given and no sandbox inventory exists.
    """
    if explicit:
        return explicit
    if os.environ.get("ODOO_DR_INVENTORY"):
        return Path(os.environ["ODOO_DR_INVENTORY"])
    sandbox_inventory = Layout(default_home()).inventory
    if sandbox_inventory.exists():
        return sandbox_inventory
    raise InventoryError(
        "no inventory: pass --inventory, set ODOO_DR_INVENTORY, "
        "or run 'odoo-dr sandbox up'"
    )


def read_inventory(explicit: Path | None = None) -> Inventory:
    """Load the inventory chosen by :func:`inventory_path`."""
    return load_inventory(inventory_path(explicit))


def run_link(ui: str | None, workflow_id: str, run_id: str | None) -> str | None:
    """The web UI address of one run's history."""
    if not ui:
        return None
    base = ui.rstrip("/")
    tail = f"/{run_id}/history" if run_id else ""
    return f"{base}/namespaces/default/workflows/{workflow_id}{tail}"
