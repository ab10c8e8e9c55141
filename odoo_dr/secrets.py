"""Resolve secret references at the moment of use, inside activities.

Resolved values are handed straight to the library or process that needs
them; they are never returned from an activity, logged or reported.
"""

import os

from odoo_dr.errors import SecretError
from odoo_dr.inventory import SecretRef


def resolve_secret(ref: SecretRef) -> str:
    """Return the value ``ref`` points to.

    Raises:
        SecretError: the variable is unset or the file cannot be read.
    """
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value is None:
            raise SecretError(f"secret {ref.describe()} is not set")
        return value
    assert ref.file is not None
    try:
        return ref.file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(
            f"secret {ref.describe()} unreadable: {exc.strerror}"
        ) from None
