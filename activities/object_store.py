"""AWS as boto3 sees it: the object store's client, and where barman-cloud keeps things.

barman-cloud's own commands do the backups and the restores; what odoo-dr
reads itself (listings, Object Lock, WAL fetched ahead of a restore) goes
through this client, and Route 53 through a session made the same way,
with the inventory's keys resolved here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from odoo_dr.inventory import ObjectStore, SecretRef
from odoo_dr.secrets import resolve_secret

# A store that does not answer should fail the caller within seconds.
_S3_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=16,
)


def aws_session(
    region_name: str,
    access_key_id: SecretRef | None,
    secret_access_key: SecretRef | None,
) -> Any:
    """A boto3 session with the inventory's keys, or boto3's own chain without."""
    keys: dict[str, str] = {}
    if access_key_id and secret_access_key:
        keys = {
            "aws_access_key_id": resolve_secret(access_key_id),
            "aws_secret_access_key": resolve_secret(secret_access_key),
        }
    return boto3.Session(region_name=region_name, **keys)


def s3_client(store: ObjectStore) -> Any:
    """A boto3 S3 client on ``store``, with its keys when the inventory has them.

    Without keys in the inventory, boto3 finds its own (environment,
    instance profile). A custom endpoint is addressed path-style, which
    S3-compatible servers all understand.
    """
    session = aws_session(
        store.region_name, store.access_key_id, store.secret_access_key
    )
    config = _S3_CONFIG
    if store.endpoint_url:
        config = config.merge(Config(s3={"addressing_style": "path"}))
    return session.client("s3", endpoint_url=store.endpoint_url, config=config)


def server_prefix(store: ObjectStore) -> str:
    """Where barman-cloud keeps this server's objects: ``prefix/server/``."""
    prefix = store.prefix.strip("/")
    return f"{prefix}/{store.server_name}/" if prefix else f"{store.server_name}/"
