"""``odoo-dr worker``: run the worker process."""

from typing import Any


def register(commands: Any) -> None:
    """Add the ``worker`` command."""
