"""The Docker Compose evaluation stack, and its agreement with the inventory.

`docker compose config` cannot run where these tests run, so docker-compose.yml
is read as YAML and checked against the rules Compose would apply, then
against deploy/compose/inventory.yaml: each fact that both files state (hosts,
ports, bucket, paths, secret names) must be stated the same way in both.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import BaseModel

from odoo_dr.inventory import Environment, SecretRef, load_inventory
from odoo_dr.names import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_DIR = ROOT / "deploy" / "compose"
ENV_EXAMPLE = COMPOSE_DIR / "env.example"
INVENTORY_FILE = COMPOSE_DIR / "inventory.yaml"
TRAEFIK_SEED_DIR = COMPOSE_DIR / "traefik"
BACKUP_POLICY = COMPOSE_DIR / "minio" / "backup-policy.json"

REQUIRED_SERVICES = [
    "temporal-db",
    "temporal",
    "temporal-ui",
    "pg-primary",
    "pg-standby",
    "odoo",
    "minio",
    "minio-init",
    "redis",
    "traefik",
    "worker",
    "chatops",
]
REGION_LABEL = "odoo-dr.region"
POSTGRES_DEFAULT_PORT = 5432
REDIS_DEFAULT_PORT = 6379
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|AUTH|ACCESS_KEY")
VARIABLE_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?][^}]*)?\}$")
# Compose interpolates ${NAME}, ${NAME:-x}, ${NAME:?x} and $NAME; "$$" escapes.
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_]\w*))")
LITERAL_PASSWORD_ARG = re.compile(
    r"(?i)(?:--requirepass|password[=:])\s*['\"]?(?![$'\"])[^\s'\"]"
)


# --- reading the compose file -------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env() -> Environment:
    return load_inventory(INVENTORY_FILE).environment("compose")


def _environment(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: str(value) for key, value in raw.items()}


def _args(raw: str | list[Any] | None) -> list[str]:
    """A command or entrypoint as its argument list, whichever form it has."""
    if isinstance(raw, str):
        return shlex.split(raw)
    return [str(arg) for arg in raw or []]


def _command(service: dict[str, Any]) -> list[str]:
    return _args(service.get("command"))


def _networks(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = service.get("networks") or {}
    if isinstance(raw, list):
        return {name: {} for name in raw}
    return {name: config or {} for name, config in raw.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {name: "service_started" for name in raw}
    return {
        name: spec.get("condition", "service_started") for name, spec in raw.items()
    }


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """Each volume as (source, target, read_only)."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            read_only = bool(entry.get("read_only"))
            mounts.append((entry.get("source", ""), entry["target"], read_only))
            continue
        source, target, *mode = entry.split(":")
        mounts.append((source, target, "ro" in mode))
    return mounts


def _is_repo_path(source: str) -> bool:
    return source.startswith((".", "/"))


def _mount_at(service: dict[str, Any], path: PurePosixPath) -> tuple[str, str, bool]:
    """The mount whose target is ``path`` or a folder above it."""
    for mount in _mounts(service):
        if path == PurePosixPath(mount[1]) or PurePosixPath(mount[1]) in path.parents:
            return mount
    raise AssertionError(f"nothing is mounted at or above {path}")


def _host_ports(service: dict[str, Any]) -> list[int]:
    ports = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                ports.append(int(entry["published"]))
            continue
        parts = str(entry).split(":")
        if len(parts) >= 2:
            ports.append(int(parts[-2]))
    return ports


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name value`` or ``--name=value`` in ``args``."""
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _postgres_settings(service: dict[str, Any]) -> dict[str, str]:
    args = _command(service)
    pairs = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def _barman_destination(args: list[str]) -> tuple[str | None, str, str]:
    """(endpoint URL, s3:// URL, server name) of a barman-cloud command line."""
    positional = [arg for arg in args if arg.startswith("s3://")]
    assert len(positional) == 1, f"expected one s3:// destination in {args}"
    server_name = args[args.index(positional[0]) + 1]
    return _option(args, "--endpoint-url"), positional[0], server_name


def _region(service: dict[str, Any]) -> str | None:
    labels = service.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(item.split("=", 1) for item in labels)
    return labels.get(REGION_LABEL)


def _dependencies(services: dict[str, Any], name: str) -> set[str]:
    """Every service ``name`` waits for, directly or through others."""
    seen: set[str] = set()
    pending = list(_depends_on(services[name]))
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(_depends_on(services.get(current, {})))
    return seen


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _secret_refs(value: Any) -> list[SecretRef]:
    if isinstance(value, SecretRef):
        return [value]
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return [ref for name in fields for ref in _secret_refs(getattr(value, name))]
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in _secret_refs(item)]
    if isinstance(value, list | tuple):
        return [ref for item in value for ref in _secret_refs(item)]
    return []


def _traefik_seed() -> dict[str, Any]:
    return yaml.safe_load((TRAEFIK_SEED_DIR / "odoo.yml").read_text(encoding="utf-8"))


def _minio_init_script(services: dict[str, Any]) -> str:
    return "\n".join(_command(services["minio-init"]))


def _bucket_created(services: dict[str, Any]) -> tuple[str, bool]:
    """(bucket, with Object Lock) of minio-init's `mc mb` line."""
    match = re.search(r"^\s*mc mb\b(.*)$", _minio_init_script(services), re.M)
    assert match, "minio-init creates no bucket"
    words = match.group(1).split()
    return words[-1].split("/", 1)[1], "--with-lock" in words


# --- the compose file on its own ---------------------------------------------


def test_compose_file_parses_to_a_mapping_of_services(compose: dict[str, Any]) -> None:
    assert isinstance(compose, dict)
    assert isinstance(compose.get("services"), dict) and compose["services"]


@pytest.mark.parametrize("name", REQUIRED_SERVICES)
def test_required_service_exists(services: dict[str, Any], name: str) -> None:
    assert name in services


def test_every_image_is_pinned_or_built_from_files_on_disk(
    services: dict[str, Any],
) -> None:
    problems = []
    for name, service in services.items():
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build["context"])
            dockerfile = "Dockerfile"
            if isinstance(build, dict):
                dockerfile = build.get("dockerfile", dockerfile)
            if not context.is_dir() or not (context / dockerfile).is_file():
                problems.append(f"{name}: no {dockerfile} in {context}")
            continue
        image = service.get("image", "")
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            problems.append(f"{name}: image {image!r} has no pinned tag")
    assert problems == []


def test_depends_on_targets_exist(services: dict[str, Any]) -> None:
    missing = [
        f"{name} -> {target}"
        for name, service in services.items()
        for target in _depends_on(service)
        if target not in services
    ]
    assert missing == []


def test_healthy_conditions_wait_on_services_with_a_healthcheck(
    services: dict[str, Any],
) -> None:
    unchecked = [
        f"{name} -> {target}"
        for name, service in services.items()
        for target, condition in _depends_on(service).items()
        if condition == "service_healthy"
        and "test" not in (services.get(target, {}).get("healthcheck") or {})
    ]
    assert unchecked == []


def test_completed_conditions_wait_on_one_shot_services(
    services: dict[str, Any],
) -> None:
    restarting = [
        f"{name} -> {target}"
        for name, service in services.items()
        for target, condition in _depends_on(service).items()
        if condition == "service_completed_successfully"
        and services.get(target, {}).get("restart", "no") != "no"
    ]
    assert restarting == []


def test_every_interpolated_variable_is_listed_in_env_example() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = {a or b for a, b in INTERPOLATION.findall(text)}
    assert used, "the compose file takes no variables at all"
    assert sorted(used - set(_env_example())) == []


def test_env_example_secrets_are_placeholders() -> None:
    real_looking = [
        key
        for key, value in _env_example().items()
        if SECRET_NAME.search(key)
        and not key.endswith("ACCESS_KEY_ID")
        and value
        and not value.startswith("change-me")
    ]
    assert real_looking == []


def test_secret_environment_values_are_variable_references(
    services: dict[str, Any],
) -> None:
    literal = [
        f"{name}: {key}"
        for name, service in services.items()
        for key, value in _environment(service).items()
        if SECRET_NAME.search(key) and not VARIABLE_ONLY.match(value)
    ]
    assert literal == []


def test_commands_pass_no_literal_password(services: dict[str, Any]) -> None:
    literal = [
        name
        for name, service in services.items()
        for part in ("command", "entrypoint")
        if LITERAL_PASSWORD_ARG.search(" ".join(_args(service.get(part))))
    ]
    assert literal == []


def test_repo_files_mounted_into_services_exist(services: dict[str, Any]) -> None:
    sources = [
        source
        for service in services.values()
        for source, _, _ in _mounts(service)
        if _is_repo_path(source)
    ]
    assert sources, "no service mounts a file of the repository"
    assert [s for s in sources if not (ROOT / s).exists()] == []


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for service in compose["services"].values()
        for source, _, _ in _mounts(service)
        if source and not _is_repo_path(source)
    }
    assert sorted(used - declared) == []


def test_networks_used_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("networks") or {})
    used = {n for s in compose["services"].values() for n in _networks(s)}
    assert sorted(used - declared) == []


def test_host_ports_do_not_collide(services: dict[str, Any]) -> None:
    counts = Counter(port for s in services.values() for port in _host_ports(s))
    assert [port for port, count in counts.items() if count > 1] == []


def test_only_the_chat_bridge_waits_behind_a_profile(
    services: dict[str, Any],
) -> None:
    profiled = {name: s["profiles"] for name, s in services.items() if "profiles" in s}
    assert profiled == {"chatops": ["chatops"]}


def test_worker_runs_odoo_dr_worker_with_an_inventory(
    services: dict[str, Any],
) -> None:
    args = _command(services["worker"])
    assert args[:2] == ["odoo-dr", "worker"]
    assert _option(args, "--inventory")


def test_worker_image_is_built_from_this_repository(services: dict[str, Any]) -> None:
    build = services["worker"]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]) == COMPOSE_DIR / "odoo-dr.Dockerfile"


def test_worker_starts_without_region_a(services: dict[str, Any]) -> None:
    waits_for = _dependencies(services, "worker")
    assert [n for n in waits_for if _region(services[n]) == "a"] == []


def test_region_b_starts_without_region_a(services: dict[str, Any]) -> None:
    waits_for = {
        dependency
        for name, service in services.items()
        if _region(service) == "b"
        for dependency in _dependencies(services, name)
    }
    assert [n for n in waits_for if _region(services[n]) == "a"] == []


@pytest.mark.parametrize("name", ["temporal", "temporal-ui", "minio", "worker"])
def test_orchestration_services_belong_to_no_region(
    services: dict[str, Any], name: str
) -> None:
    assert _region(services[name]) is None


@pytest.mark.parametrize("region", ["a", "b"])
def test_region_network_holds_only_its_region(
    services: dict[str, Any], region: str
) -> None:
    foreign = [
        name
        for name, service in services.items()
        if f"region-{region}" in _networks(service)
        and _region(service) not in (region, None)
    ]
    assert foreign == []


def test_search_attributes_registered_are_those_odoo_dr_uses(
    services: dict[str, Any],
) -> None:
    args = _command(services["temporal-init"])
    names = [args[i + 1] for i, arg in enumerate(args) if arg == "--name"]
    types = [args[i + 1] for i, arg in enumerate(args) if arg == "--type"]
    assert dict(zip(names, types, strict=True)) == SEARCH_ATTRIBUTES


# --- the inventory against the stack -------------------------------------------


def test_example_inventory_loads_with_environment_compose(env: Environment) -> None:
    assert env.name == "compose"


def test_postgres_node_hosts_are_services_of_their_region(
    services: dict[str, Any], env: Environment
) -> None:
    misplaced = [
        f"{region}/{node.name}: {node.host}"
        for region, spec in env.regions.items()
        for node in spec.postgres
        if node.host not in services or _region(services[node.host]) != region
    ]
    assert misplaced == []


def test_postgres_node_ports_are_the_ports_their_services_listen_on(
    services: dict[str, Any], env: Environment
) -> None:
    for node in env.all_nodes():
        settings = _postgres_settings(services[node.host])
        assert node.port == int(settings.get("port", POSTGRES_DEFAULT_PORT))


def test_postgres_nodes_keep_wal_log_hints_on(
    services: dict[str, Any], env: Environment
) -> None:
    for node in env.all_nodes():
        assert _postgres_settings(services[node.host]).get("wal_log_hints") == "on"


def test_standby_clones_the_inventory_primary(
    services: dict[str, Any], env: Environment
) -> None:
    standby = _environment(services[env.standby().host])
    assert standby["PRIMARY_HOST"] == env.primary().host
    assert int(standby["PRIMARY_PORT"]) == env.primary().port


def test_standby_slot_is_the_slot_the_primary_creates(
    services: dict[str, Any], env: Environment
) -> None:
    slot = env.standby().replication_slot
    assert _environment(services[env.primary().host])["REPLICATION_SLOT"] == slot
    assert _environment(services[env.standby().host])["REPLICATION_SLOT"] == slot


def test_object_store_endpoint_is_the_minio_service(
    services: dict[str, Any], env: Environment
) -> None:
    endpoint = urlsplit(env.object_store.endpoint_url or "")
    assert endpoint.hostname == "minio"
    address = _option(_command(services["minio"]), "--address") or ":9000"
    assert endpoint.port == int(address.rsplit(":", 1)[1])


def test_object_store_bucket_is_the_one_minio_init_creates(
    services: dict[str, Any], env: Environment
) -> None:
    bucket, _ = _bucket_created(services)
    assert env.object_store.bucket == bucket


def test_object_lock_matches_the_bucket_minio_init_creates(
    services: dict[str, Any], env: Environment
) -> None:
    _, with_lock = _bucket_created(services)
    assert env.object_store.object_lock == with_lock


def test_backup_user_policy_covers_the_inventory_bucket(env: Environment) -> None:
    policy = json.loads(BACKUP_POLICY.read_text(encoding="utf-8"))
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    bucket = env.object_store.bucket
    assert {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"} <= resources


@pytest.mark.parametrize("name", ["pg-primary", "pg-standby"])
def test_archive_command_writes_to_the_inventory_object_store(
    services: dict[str, Any], env: Environment, name: str
) -> None:
    command = _postgres_settings(services[name])["archive_command"]
    store = env.object_store
    assert _barman_destination(shlex.split(command)) == (
        store.endpoint_url,
        store.destination_url,
        store.server_name,
    )


def test_base_backup_writes_to_the_inventory_object_store(
    services: dict[str, Any], env: Environment
) -> None:
    args = _command(services["pg-base-backup"])
    store = env.object_store
    assert _barman_destination(args) == (
        store.endpoint_url,
        store.destination_url,
        store.server_name,
    )
    assert _option(args, "--host") == env.primary().host


def test_redis_host_is_the_redis_service(
    services: dict[str, Any], env: Environment
) -> None:
    assert env.redis is not None
    assert env.redis.host == "redis" and "redis" in services
    port = _option(_command(services["redis"]), "--port")
    assert env.redis.port == int(port or REDIS_DEFAULT_PORT)


def test_odoo_database_is_the_one_odoo_serves(
    services: dict[str, Any], env: Environment
) -> None:
    assert _option(_command(services["odoo"]), "--database") == env.odoo.database


def test_odoo_url_host_is_the_traefik_router_host(env: Environment) -> None:
    host = urlsplit(env.odoo.url or "").hostname
    rule = _traefik_seed()["http"]["routers"]["odoo"]["rule"]
    assert host == env.traffic.hostname
    assert rule == f"Host(`{host}`)"


def test_odoo_url_port_is_the_traefik_web_entrypoint(
    services: dict[str, Any], env: Environment
) -> None:
    address = _option(_command(services["traefik"]), "--entryPoints.web.address")
    assert urlsplit(env.odoo.url or "").port == int((address or "").rsplit(":")[-1])
    assert "web" in _traefik_seed()["http"]["routers"]["odoo"]["entryPoints"]


def test_traefik_router_sends_traffic_to_the_odoo_service(
    services: dict[str, Any],
) -> None:
    servers = _traefik_seed()["http"]["services"]["odoo"]["loadBalancer"]["servers"]
    hosts = {urlsplit(server["url"]).hostname for server in servers}
    assert hosts == {"odoo"} and "odoo" in services


def test_worker_resolves_the_odoo_url_host_to_traefik(
    services: dict[str, Any], env: Environment
) -> None:
    host = urlsplit(env.odoo.url or "").hostname
    worker_networks = _networks(services["worker"])
    aliased_on = [
        network
        for network, config in _networks(services["traefik"]).items()
        if host in (config.get("aliases") or [])
    ]
    assert set(aliased_on) & set(worker_networks)


def test_traffic_config_dir_is_the_folder_traefik_watches(
    services: dict[str, Any], env: Environment
) -> None:
    traefik = services["traefik"]
    directory = _option(_command(traefik), "--providers.file.directory")
    assert env.traffic.kind == "traefik-file"
    assert str(env.traffic.config_dir) == directory
    assert _mount_at(traefik, PurePosixPath(directory))[1] == directory


def test_worker_writes_the_volume_traefik_watches(
    services: dict[str, Any], env: Environment
) -> None:
    config_dir = PurePosixPath(str(env.traffic.config_dir))
    source, _, read_only = _mount_at(services["worker"], config_dir)
    assert source == _mount_at(services["traefik"], config_dir)[0]
    assert not read_only


def test_worker_mounts_the_inventory_at_the_path_its_command_names(
    services: dict[str, Any],
) -> None:
    worker = services["worker"]
    path = _option(_command(worker), "--inventory")
    sources = [s for s, target, _ in _mounts(worker) if target == path]
    assert [(ROOT / s).resolve() for s in sources] == [INVENTORY_FILE]


# Secrets only the chat bridge reads; the worker has no use for them.
_BRIDGE_ONLY = ("signing_secret", "bridge_private_key")


def test_inventory_secret_references_are_worker_environment(
    services: dict[str, Any], env: Environment
) -> None:
    bridge_only = [getattr(env.chat, f, None) for f in _BRIDGE_ONLY]
    names = {
        ref.env
        for ref in _secret_refs(env)
        if ref.env is not None and ref not in bridge_only
    }
    assert names, "the example inventory references no secret"
    assert sorted(names - set(_environment(services["worker"]))) == []


def test_chat_secret_references_are_chat_bridge_environment(
    services: dict[str, Any], env: Environment
) -> None:
    assert env.chat is not None and env.chat.signing_secret is not None
    names = {ref.env for ref in _secret_refs(env.chat) if ref.env is not None}
    bridge_env = set(_environment(services["chatops"]))
    assert sorted(names - bridge_env) == []


def test_chat_bridge_listens_beyond_its_container_for_the_proxy(
    services: dict[str, Any],
) -> None:
    command = services["chatops"]["command"]
    assert command[:3] == ["odoo-dr", "chatops", "serve"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--env") + 1] == "compose"


def test_worker_temporal_address_is_the_temporal_service(
    services: dict[str, Any],
) -> None:
    address = _environment(services["worker"])["ODOO_DR_TEMPORAL_ADDRESS"]
    assert address.split(":")[0] == "temporal"


def test_worker_shares_a_network_with_every_service_it_calls(
    services: dict[str, Any], env: Environment
) -> None:
    called = {node.host for node in env.all_nodes()}
    called |= {urlsplit(env.object_store.endpoint_url or "").hostname or ""}
    called |= {env.redis.host if env.redis else "", "temporal"}
    worker_networks = set(_networks(services["worker"]))
    unreachable = [
        name for name in called if not set(_networks(services[name])) & worker_networks
    ]
    assert unreachable == []


def test_drill_work_dir_is_a_writable_worker_volume(
    services: dict[str, Any], env: Environment
) -> None:
    source, _, read_only = _mount_at(
        services["worker"], PurePosixPath(str(env.drill.work_dir))
    )
    assert source and not _is_repo_path(source) and not read_only


def test_worker_sees_the_odoo_filestore(
    services: dict[str, Any], env: Environment
) -> None:
    filestore = PurePosixPath(str(env.odoo.filestore))
    worker_source, worker_target, _ = _mount_at(services["worker"], filestore)
    odoo_source, odoo_target, _ = _mount_at(services["odoo"], filestore)
    assert (worker_source, worker_target) == (odoo_source, odoo_target)
