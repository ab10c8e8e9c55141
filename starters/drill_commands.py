"""``odoo-dr drill``: restore drills."""

from typing import Any


def register(commands: Any) -> None:
    """Add the ``drill`` commands."""
