"""Ed25519 keys for signed votes: make a pair, sign a ballot.

Private keys live in files (mode 0600) or other secret references, and are
read only by the process that signs: the CLI of the approver, or the chat
bridge. Public keys (base64 of the 32 raw bytes) go in the inventory.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from odoo_dr.approvals import Decision, signed_message
from odoo_dr.errors import SecretError


def new_key_pair() -> tuple[str, str]:
    """A fresh private key (base64 of 32 raw bytes) and its public key."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode(), public_key_of(base64.b64encode(raw).decode())


def public_key_of(private_key: str) -> str:
    """The base64 public key of a base64 private key.

    Raises:
        SecretError: the value is not a base64 Ed25519 private key.
    """
    public = _private(private_key).public_key()
    raw = public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def new_nonce() -> str:
    """A nonce for one vote: random, URL-safe, never reused."""
    return secrets.token_urlsafe(18)


def sign_vote(
    private_key: str, run_id: str, gate: str, decision: Decision, nonce: str
) -> str:
    """The base64 signature of ``run id|gate|decision|nonce``.

    Raises:
        SecretError: the key is not a base64 Ed25519 private key.
    """
    message = signed_message(run_id, gate, decision, nonce)
    return base64.b64encode(_private(private_key).sign(message)).decode()


def _private(private_key: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(private_key.strip(), validate=True)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except (binascii.Error, ValueError):
        # Never echo the value: it is a secret, even when malformed.
        raise SecretError(
            "the signing key is not the base64 of a 32-byte Ed25519 private key"
        ) from None
