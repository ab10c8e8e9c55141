"""The inventory: what odoo-dr knows about each environment it protects.

One YAML or TOML file describes the environments: the regions with their
PostgreSQL nodes and how to reach each host, the object store holding base
backups and WAL, Redis, the Odoo deployment, traffic routing, recovery tiers
with their objectives, and drill settings. Workflow inputs only name an
environment; the worker loads this file and activities resolve the secrets it
references. A secret is never written here, only where to find it.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from odoo_dr.errors import InventoryError, UnknownEnvironmentError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    """Accept "90s", "5m", "1h", "1d" besides what pydantic itself accepts."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            amount, unit = match.groups()
            return timedelta(seconds=float(amount) * _UNIT_SECONDS[unit])
    return value


def _known_time_zone(name: str) -> str:
    """Refuse a time zone the IANA database (zoneinfo) does not know."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None
    return name


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]
Port = Annotated[int, Field(ge=1, le=65535)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Model):
    """Where a secret lives: an environment variable or a file, never its value."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline_values(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise ValueError(
                "a secret must be a reference ({env: NAME} or {file: PATH}), "
                "never the value itself"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference needs exactly one of 'env', 'file'")
        return self

    def describe(self) -> str:
        """Name the reference for logs and reports, without its value."""
        return f"env:{self.env}" if self.env else f"file:{self.file}"


class LocalAccess(_Model):
    """The host is this machine; commands run as ``os_user`` when set."""

    kind: Literal["local"] = "local"
    os_user: str | None = None


class SSHAccess(_Model):
    """The host is reached over SSH."""

    kind: Literal["ssh"]
    host: str
    user: str
    port: Port = 22
    identity_file: SecretRef | None = None


class KubernetesAccess(_Model):
    """The node runs in a Kubernetes pod."""

    kind: Literal["kubernetes"]
    namespace: str
    pod: str
    container: str | None = None
    context: str | None = None


HostAccess = Annotated[
    LocalAccess | SSHAccess | KubernetesAccess, Field(discriminator="kind")
]


class PostgresNode(_Model):
    """One PostgreSQL server of a region."""

    name: Name
    role: Literal["primary", "standby"]
    host: str
    port: Port = 5432
    data_dir: Path | None = None
    bindir: Path | None = None
    access: HostAccess = LocalAccess()
    superuser: str = "postgres"
    password: SecretRef | None = None
    replication_slot: str | None = None


class ReplicationSettings(_Model):
    """The role standbys stream with, for a node turned into a standby.

    Written into the new standby's ``primary_conninfo`` (in its data
    directory, readable by the PostgreSQL account only), as pg_basebackup -R
    does.
    """

    user: str = "replicator"
    password: SecretRef | None = None


class Region(_Model):
    """A failure domain: its PostgreSQL nodes."""

    postgres: list[PostgresNode] = Field(min_length=1)


class ObjectStore(_Model):
    """The S3-compatible store holding base backups and archived WAL."""

    endpoint_url: str | None = None
    bucket: str = Field(min_length=3)
    prefix: str = ""
    server_name: Name
    region_name: str = "us-east-1"
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None
    object_lock: bool = False

    @property
    def destination_url(self) -> str:
        """The ``s3://bucket/prefix`` URL barman-cloud commands take."""
        prefix = self.prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"


class RedisTarget(_Model):
    """Redis used by Odoo for sessions and bus."""

    host: str
    port: Port = 6379
    db: int = Field(default=0, ge=0)
    password: SecretRef | None = None


class RedisMove(_Model):
    """What a move of region does to Redis, which holds no record of truth.

    ``flush``: the same Redis serves both regions; its sessions and caches
    are emptied so that nothing of the old primary's era is served.
    ``switch``: each region has its own Redis (``by_region``); the app is
    pointed at the new region's, which must answer. ``keep``: nothing.
    """

    action: Literal["flush", "switch", "keep"] = "flush"
    by_region: dict[str, RedisTarget] = {}


class DatabasePointer(_Model):
    """Where a Kubernetes deployment reads its database host and port.

    A ConfigMap or a Secret in the deployment's namespace; the keys hold the
    host and the port as text (as Odoo images take them from ``HOST`` and
    ``PORT`` environment variables).
    """

    kind: Literal["configmap", "secret"] = "configmap"
    name: str
    host_key: str = "HOST"
    port_key: str = "PORT"


class OdooDeployment(_Model):
    """One part of the Odoo application tier of one region.

    ``kind`` says how it is driven: ``kubernetes`` (a Deployment of
    ``namespace``; ``database`` names where it reads its database host), or
    ``process`` (the sandbox: a local writer that reads ``control_file``).
    """

    region: str
    kind: Literal["process", "kubernetes", "ssh"] = "process"
    name: str
    namespace: str | None = None
    replicas: int = Field(default=1, ge=0)
    database: DatabasePointer | None = None
    control_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> OdooDeployment:
        if self.kind == "kubernetes" and not self.namespace:
            raise ValueError(f"deployment {self.name}: kubernetes needs a namespace")
        if self.kind == "process" and self.control_file is None:
            raise ValueError(f"deployment {self.name}: process needs a control_file")
        return self


class KubernetesCluster(_Model):
    """How the worker reaches one region's Kubernetes API.

    ``kubeconfig`` is a secret reference to a kubeconfig file's content;
    without it the worker's own configuration is used (in-cluster service
    account, else ``~/.kube/config``), with ``context`` when given.
    """

    kubeconfig: SecretRef | None = None
    context: str | None = None


class OdooValidation(_Model):
    """How validation reaches Odoo itself, beyond its database."""

    login: str | None = None
    password: SecretRef | None = None
    canary: bool = False


class OdooApp(_Model):
    """The Odoo application whose database is protected."""

    version: Literal["16.0", "17.0", "18.0"] = "17.0"
    database: str
    db_user: str = "odoo"
    db_password: SecretRef | None = None
    url: str | None = None
    base_urls: dict[str, str] = {}
    filestore: Path | None = None
    deployments: list[OdooDeployment] = []
    database_uuid: str | None = None
    validation: OdooValidation = OdooValidation()

    def base_url(self, region: str) -> str | None:
        """The address users reach Odoo at when ``region`` serves it."""
        return self.base_urls.get(region) or self.url


class Traffic(_Model):
    """How traffic reaches the active region.

    ``targets`` maps each region to where users must be sent when it serves:
    for ``traefik-file`` the URL of that region's Odoo service, for
    ``route53`` the record's value (an address, or a name for CNAME).
    ``traefik-file`` rewrites the router ``router`` of the file ``file`` in
    ``config_dir``, the folder Traefik's file provider watches.
    """

    kind: Literal["traefik-file", "route53", "none"] = "none"
    config_dir: Path | None = None
    file: str = Field(default="odoo.yml", pattern=r"^[A-Za-z0-9_.-]+\.ya?ml$")
    router: str = "odoo"
    hostname: str | None = None
    hosted_zone_id: str | None = None
    targets: dict[str, str] = {}
    record_type: Literal["A", "AAAA", "CNAME"] = "CNAME"
    ttl: int = Field(default=60, ge=1)
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None

    @model_validator(mode="after")
    def _complete(self) -> Traffic:
        if self.kind == "traefik-file" and self.config_dir is None:
            raise ValueError("traffic kind traefik-file needs config_dir")
        if self.kind == "route53" and not (self.hosted_zone_id and self.hostname):
            raise ValueError("traffic kind route53 needs hosted_zone_id and hostname")
        return self


class RecoveryTier(_Model):
    """A group of business areas sharing recovery objectives."""

    name: Name
    rto: Duration
    rpo: Duration
    areas: list[str] = []


class DrillSettings(_Model):
    """Where restore drills build their isolated copies."""

    host: str = "127.0.0.1"
    work_dir: Path
    bindir: Path | None = None
    os_user: str | None = None
    port_range: tuple[Port, Port] = (55400, 55499)
    # Fetch the archived WAL while the base backup restores (it needs room
    # for all WAL since the backup in work_dir); off, PostgreSQL asks
    # barman-cloud-wal-restore for each file, one process at a time.
    prefetch_wal: bool = True

    @model_validator(mode="after")
    def _ordered_range(self) -> DrillSettings:
        low, high = self.port_range
        if low > high:
            raise ValueError(f"port_range {low}-{high} is empty")
        return self


class ChatSettings(_Model):
    """Where runbooks post notifications, and how the chat bridge checks Slack."""

    kind: Literal["slack"] = "slack"
    channel: str
    webhook_url: SecretRef | None = None
    bot_token: SecretRef | None = None
    api_url: str | None = None
    signing_secret: SecretRef | None = None
    bridge_private_key: SecretRef | None = None
    paging_webhook_url: SecretRef | None = None


def _public_key(value: str | None) -> str | None:
    if value is not None:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            raise ValueError("a public key is the base64 of 32 raw Ed25519 bytes")
    return value


PublicKey = Annotated[str | None, AfterValidator(_public_key)]


class Approver(_Model):
    """A person who may approve gates, in the roles they hold."""

    id: Name
    name: str = ""
    roles: list[Name] = Field(min_length=1)
    slack_user: str | None = None
    public_key: PublicKey = None


class EscalationStep(_Model):
    """Whom to notify (roles or person ids) when a gate is still open."""

    after: Duration
    notify: list[str] = Field(min_length=1)


class GateRule(_Model):
    """Who must approve one gate, how many, and for how long the gate waits."""

    roles: list[Name] = Field(min_length=1)
    quorum: int = Field(default=1, ge=1)
    distinct_roles: bool = False
    two_person: bool = True
    timeout: Duration = timedelta(hours=1)
    escalation: list[EscalationStep] = []
    signed: bool = False


class ApprovalSettings(_Model):
    """The people who approve, and the rule of each gate (or a default)."""

    people: list[Approver] = []
    default: GateRule | None = None
    gates: dict[str, GateRule] = {}
    bridge_public_key: PublicKey = None

    @model_validator(mode="after")
    def _rules_can_be_met(self) -> ApprovalSettings:
        ids = [person.id for person in self.people]
        if len(ids) != len(set(ids)):
            raise ValueError("approvals.people: a person id appears twice")
        rules = dict(self.gates)
        if self.default is not None:
            rules["default"] = self.default
        for name, rule in rules.items():
            holders = [p for p in self.people if set(p.roles) & set(rule.roles)]
            if len(holders) < rule.quorum:
                raise ValueError(
                    f"approvals gate {name!r} needs {rule.quorum} approval(s) from "
                    f"roles {rule.roles} but only {len(holders)} person(s) hold them"
                )
            if rule.escalation and max(s.after for s in rule.escalation) >= (
                rule.timeout
            ):
                raise ValueError(
                    f"approvals gate {name!r}: every escalation must come before "
                    "the timeout"
                )
        return self


class Integration(_Model):
    """Something outside Odoo that must work again after a region move.

    An SFTP exchange with the bank, a payment provider, an identity
    connector, an outgoing webhook. ``http`` and ``tcp`` are probed by the
    runbook (``url`` answers 2xx or 3xx; ``host``:``port`` accepts a
    connection); ``task`` is a job for its ``owner``, a person of the
    approvals, who confirms it like a gate. A failed probe also becomes a
    task for the owner, when there is one.
    """

    name: Name
    kind: Literal["http", "tcp", "task"]
    description: str = ""
    url: str | None = None
    host: str | None = None
    port: Port | None = None
    owner: str | None = None
    timeout: Duration = timedelta(seconds=10)
    confirm_within: Duration = timedelta(hours=4)

    @model_validator(mode="after")
    def _complete(self) -> Integration:
        if self.kind == "http" and not self.url:
            raise ValueError(f"integration {self.name}: http needs a url")
        if self.kind == "tcp" and not (self.host and self.port):
            raise ValueError(f"integration {self.name}: tcp needs host and port")
        if self.kind == "task" and not self.owner:
            raise ValueError(f"integration {self.name}: a task needs an owner")
        return self


class Environment(_Model):
    """One protected Odoo installation across its regions."""

    name: Name
    description: str = ""
    # The firm's clock: drill schedules run on it ("02:30" is 02:30 there).
    time_zone: Annotated[str, AfterValidator(_known_time_zone)] = "UTC"
    primary_region: str
    standby_region: str
    regions: dict[Name, Region]
    object_store: ObjectStore
    replication: ReplicationSettings = ReplicationSettings()
    redis: RedisTarget | None = None
    redis_move: RedisMove = RedisMove()
    kubernetes: dict[str, KubernetesCluster] = {}
    odoo: OdooApp
    traffic: Traffic = Traffic()
    tiers: list[RecoveryTier] = []
    drill: DrillSettings
    chat: ChatSettings | None = None
    approvals: ApprovalSettings = ApprovalSettings()
    integrations: list[Integration] = []

    @model_validator(mode="after")
    def _regions_agree(self) -> Environment:
        for field in ("primary_region", "standby_region"):
            region = getattr(self, field)
            if region not in self.regions:
                known = ", ".join(sorted(self.regions)) or "none"
                raise ValueError(f"{field} {region!r} is not a region (known: {known})")
        if self.primary_region == self.standby_region:
            raise ValueError("primary_region and standby_region must differ")
        for field, named in (
            ("odoo.base_urls", self.odoo.base_urls),
            ("traffic.targets", self.traffic.targets),
            ("redis_move.by_region", self.redis_move.by_region),
            ("kubernetes", self.kubernetes),
            ("odoo.deployments", {d.region: d for d in self.odoo.deployments}),
        ):
            strays = sorted(set(named) - set(self.regions))
            if strays:
                raise ValueError(f"{field} names unknown region(s) {strays}")
        people = {p.id for p in self.approvals.people}
        for integration in self.integrations:
            if integration.owner and integration.owner not in people:
                raise ValueError(
                    f"integration {integration.name}: owner {integration.owner!r} "
                    "is not a person of approvals.people"
                )
        if self.redis_move.action == "switch":
            missing = sorted(set(self.regions) - set(self.redis_move.by_region))
            if missing:
                raise ValueError(
                    f"redis_move switch needs a Redis for every region; none "
                    f"for {missing}"
                )
        primaries = [n for n in self.all_nodes() if n.role == "primary"]
        if len(primaries) != 1:
            raise ValueError(
                f"exactly one PostgreSQL node must have role 'primary', "
                f"found {len(primaries)}"
            )
        return self

    def all_nodes(self) -> list[PostgresNode]:
        """Every PostgreSQL node of every region."""
        return [node for region in self.regions.values() for node in region.postgres]

    def primary(self) -> PostgresNode:
        """The node the inventory names as primary."""
        return next(n for n in self.all_nodes() if n.role == "primary")

    def standby(self) -> PostgresNode | None:
        """The first standby of the standby region, if there is one."""
        nodes = self.regions[self.standby_region].postgres
        return next((n for n in nodes if n.role == "standby"), None)


class Inventory(_Model):
    """All environments odoo-dr protects."""

    version: Literal[1] = 1
    environments: dict[str, Environment] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _name_from_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            envs = {}
            for key, env in data["environments"].items():
                if isinstance(env, dict):
                    env = {**env, "name": env.get("name", key)}
                envs[key] = env
            data = {**data, "environments": envs}
        return data

    @model_validator(mode="after")
    def _keys_match_names(self) -> Inventory:
        for key, env in self.environments.items():
            if env.name != key:
                raise ValueError(f"environment {key!r} declares name {env.name!r}")
        return self

    def environment(self, name: str) -> Environment:
        """Return the environment called ``name``.

        Raises:
            UnknownEnvironmentError: the inventory has no such environment.
        """
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise UnknownEnvironmentError(
                f"unknown environment {name!r} (the inventory has: {known})"
            ) from None


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    """Parse inventory text, YAML or TOML by the source's suffix.

    Raises:
        InventoryError: the text does not parse or does not validate; the
            message names the source and the path of every bad field.
    """
    try:
        if source.endswith(".toml"):
            raw = tomllib.loads(text)
        else:
            raw = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InventoryError(f"{source}: cannot parse: {exc}") from None
    if not isinstance(raw, dict):
        raise InventoryError(f"{source}: expected a mapping at the top level")
    try:
        return Inventory.model_validate(raw)
    except ValidationError as exc:
        raise InventoryError(f"{source}: invalid inventory\n{_describe(exc)}") from None


def load_inventory(path: Path | str) -> Inventory:
    """Load and validate the inventory file at ``path``.

    Raises:
        InventoryError: the file is missing, unreadable or invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_inventory(text, str(path))


def dump_inventory(inventory: Inventory) -> str:
    """Render an inventory as YAML that :func:`parse_inventory` reads back."""
    data = inventory.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False)


def _describe(exc: ValidationError) -> str:
    # Input values are left out on purpose: a bad field may hold a secret.
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)
