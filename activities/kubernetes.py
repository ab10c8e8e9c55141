"""Odoo's app tier on Kubernetes: stop a Deployment, repoint it, start it.

The app_tier activities call these functions for deployments of kind
``kubernetes``. Each function reads the Deployment first and changes only
what differs, so that a retry after a crash converges instead of repeating:

- the count of pods a stop found is kept in the Deployment's annotation
  ``odoo-dr.io/replicas-before`` until the start that restores it;
- the database address the pods were last restarted for is kept in the pod
  template's annotation ``odoo-dr.io/database-address``, so that a retry
  after the ConfigMap or Secret was patched still restarts the pods.

The official client blocks; every call runs in a thread. No global client
configuration is set: each call builds its own from the inventory.

A Deployment whose rollouts are paused (``spec.paused``) does not roll out
the restart of :func:`point_deployment`: its wait times out and retries
until someone runs ``kubectl rollout resume``; nothing here unpauses it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import yaml
from kubernetes import client, config
from kubernetes.client import ApiClient, V1Deployment
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hosts import beat
from odoo_dr.cutover import AppTierStep
from odoo_dr.errors import BAD_INPUT, PRECONDITION_FAILED, SecretError
from odoo_dr.inventory import (
    DatabasePointer,
    KubernetesCluster,
    OdooDeployment,
    SecretRef,
)
from odoo_dr.secrets import resolve_secret

REPLICAS_BEFORE = "odoo-dr.io/replicas-before"
DATABASE_ADDRESS = "odoo-dr.io/database-address"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POLL_SECONDS = 0.5
ROLLOUT_TIMEOUT_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 30.0


T = TypeVar("T")
_Action = Literal["quiesced", "pointed", "resumed", "unchanged", "skipped"]


async def inspect_deployment(
    cluster: KubernetesCluster | None, deployment: OdooDeployment
) -> str:
    """What the API says of ``deployment`` and its database pointer.

    Changes nothing; for the pre-flight, which must know before anyone
    approves that region B's Odoo can be started and repointed.

    Raises:
        ApplicationError: as the other functions do (missing object, refused
            credentials, unusable cluster settings).
    """
    async with _connect(cluster, deployment) as kube:
        current = await kube.read()
        if deployment.database is not None:
            await kube.read_pointer(deployment.database)
    return f"{kube.label}: {_Rollout.of(current)}"


async def quiesce_deployment(
    cluster: KubernetesCluster | None, deployment: OdooDeployment
) -> AppTierStep:
    """Scale ``deployment`` to zero and wait until none of its pods is left.

    Records the replicas the Deployment had in its annotation
    ``odoo-dr.io/replicas-before``, then scales it to 0 through the scale
    subresource, and returns only once no pod runs or terminates: Odoo then
    holds no database connection. Retrying is safe: a Deployment already at
    zero is reported unchanged, with the count its stop recorded.

    Raises:
        ApplicationError: non-retryable when the Deployment does not exist,
            the cluster settings are unusable or the credentials are
            refused; retryable when pods remain after
            ``ROLLOUT_TIMEOUT_SECONDS``.
    """
    async with _connect(cluster, deployment) as kube:
        current = await kube.read()
        running = _replicas(current)
        if running:
            await kube.annotate({REPLICAS_BEFORE: str(running)})
            await kube.scale(0)
            activity.logger.info(
                "deployment %s scaled from %d to 0", kube.label, running
            )
        rollout = await _wait_for_rollout(kube)
    return _step(
        deployment,
        "quiesced" if running else "unchanged",
        replicas_before=running or _recorded(current),
        detail=f"no pod left; {rollout}",
    )


async def point_deployment(
    cluster: KubernetesCluster | None,
    deployment: OdooDeployment,
    host: str,
    port: int,
) -> AppTierStep:
    """Point ``deployment`` at the database on ``host``:``port``.

    Writes the host and port into the keys of the ConfigMap or Secret the
    inventory names (``database``), and marks the pod template with the
    address. A running Deployment gets a rollout restart, as ``kubectl
    rollout restart`` does, and is waited for, so that every pod reads the
    new address; a stopped one stays stopped. Retrying is safe: values
    already equal are left alone, and the template mark tells whether the
    pods were restarted for this address. A deployment without ``database``
    is reported skipped.

    Raises:
        ApplicationError: non-retryable when the Deployment, ConfigMap or
            Secret does not exist, the cluster settings are unusable or the
            credentials are refused; retryable when the rollout does not
            finish within ``ROLLOUT_TIMEOUT_SECONDS``.
    """
    pointer = deployment.database
    if pointer is None:
        return _step(
            deployment,
            "skipped",
            detail="the inventory names no ConfigMap or Secret holding its "
            "database address (database:); its pods keep the address they have",
        )
    async with _connect(cluster, deployment) as kube:
        rewritten = await _write_pointer(kube, pointer, host, port)
        current = await kube.read()
        restarted = await _mark_address(kube, current, f"{host}:{port}")
        running = _replicas(current) > 0
        rollout = await _wait_for_rollout(kube) if running else None
    written = f"{pointer.kind} {pointer.name} holds {host}:{port}"
    state = str(rollout) if rollout else "stopped: its pods read it when started"
    return _step(
        deployment,
        "pointed" if rewritten or restarted else "unchanged",
        detail=f"{written}; {state}",
    )


async def resume_deployment(
    cluster: KubernetesCluster | None, deployment: OdooDeployment
) -> AppTierStep:
    """Scale ``deployment`` back up and wait until all its pods are ready.

    The size is the one recorded by the stop (``odoo-dr.io/replicas-before``);
    without a record, a running Deployment keeps its size and a stopped one
    gets the inventory's ``replicas``. The record is removed once the scale
    is set. Retrying is safe: a Deployment at that size is not scaled again,
    and its rollout is only waited for.

    Raises:
        ApplicationError: non-retryable when the Deployment does not exist,
            the cluster settings are unusable or the credentials are
            refused; retryable when the pods are not ready within
            ``ROLLOUT_TIMEOUT_SECONDS``.
    """
    async with _connect(cluster, deployment) as kube:
        current = await kube.read()
        running = _replicas(current)
        recorded = _recorded(current)
        wanted = recorded if recorded is not None else running or deployment.replicas
        if running != wanted:
            await kube.scale(wanted)
            activity.logger.info(
                "deployment %s scaled from %d to %d", kube.label, running, wanted
            )
        if recorded is not None:
            await kube.annotate({REPLICAS_BEFORE: None})
        rollout = await _wait_for_rollout(kube)
    return _step(
        deployment,
        "resumed" if running != wanted else "unchanged",
        replicas_before=running,
        detail=str(rollout),
    )


class _Kube:
    """The API calls on one Deployment and on its database pointer."""

    def __init__(
        self, api: ApiClient, deployment: OdooDeployment, credentials: str
    ) -> None:
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._credentials = credentials
        self.namespace = deployment.namespace or ""
        self.name = deployment.name
        self.label = f"{self.namespace}/{self.name}"

    async def read(self) -> V1Deployment:
        """The Deployment as the API server has it now."""
        read = self._apps.read_namespaced_deployment
        return await self._call("Deployment", self.name, read)

    async def annotate(self, annotations: dict[str, str | None]) -> None:
        """Set (or, with None, remove) annotations of the Deployment."""
        body = {"metadata": {"annotations": annotations}}
        await self._call(
            "Deployment", self.name, self._apps.patch_namespaced_deployment, body
        )

    async def patch_template(self, annotations: dict[str, str]) -> None:
        """Set annotations of the pod template: a new rollout when running."""
        body = {"spec": {"template": {"metadata": {"annotations": annotations}}}}
        await self._call(
            "Deployment", self.name, self._apps.patch_namespaced_deployment, body
        )

    async def scale(self, replicas: int) -> None:
        """Set the Deployment's replicas through its scale subresource."""
        body = {"spec": {"replicas": replicas}}
        patch = self._apps.patch_namespaced_deployment_scale
        await self._call("Deployment", self.name, patch, body)

    async def read_pointer(self, pointer: DatabasePointer) -> dict[str, str]:
        """The ConfigMap's data, or the Secret's data decoded."""
        if pointer.kind == "configmap":
            read = self._core.read_namespaced_config_map
            found = await self._call("ConfigMap", pointer.name, read)
            return dict(found.data or {})
        read_secret = self._core.read_namespaced_secret
        secret = await self._call("Secret", pointer.name, read_secret)
        return {key: _decoded(value) for key, value in (secret.data or {}).items()}

    async def write_pointer(
        self, pointer: DatabasePointer, values: dict[str, str]
    ) -> None:
        """Merge ``values`` into the ConfigMap's or Secret's data."""
        if pointer.kind == "configmap":
            patch = self._core.patch_namespaced_config_map
            await self._call("ConfigMap", pointer.name, patch, {"data": values})
            return
        encoded = {key: _encoded(value) for key, value in values.items()}
        patch_secret = self._core.patch_namespaced_secret
        await self._call("Secret", pointer.name, patch_secret, {"data": encoded})

    async def _call(
        self, kind: str, name: str, method: Callable[..., T], *body: object
    ) -> T:
        """Run ``method(name, namespace, *body)`` in a thread; map refusals."""
        try:
            return await asyncio.to_thread(
                method,
                name,
                self.namespace,
                *body,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
        except ApiException as exc:
            raise self._refusal(exc, f"{kind} {name}") from None

    def _refusal(self, exc: ApiException, what: str) -> ApplicationError:
        """The ApplicationError for an API error on ``what``."""
        where = f"{what} in namespace {self.namespace}"
        if exc.status == 404:
            return ApplicationError(
                f"{where} does not exist; create it, or correct deployment "
                f"{self.name} of the inventory (namespace, name, database)",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        if exc.status in (401, 403):
            return ApplicationError(
                f"the Kubernetes API refused the credentials of "
                f"{self._credentials} for {where} ({exc.status} {exc.reason}); "
                "renew the token, or grant it get and patch on deployments, "
                "deployments/scale, configmaps and secrets",
                type=PRECONDITION_FAILED,
                non_retryable=True,
            )
        return ApplicationError(
            f"the Kubernetes API failed on {where}: {exc.status} {exc.reason}"
        )


@dataclass(frozen=True)
class _Rollout:
    """What a Deployment's status says of its pods, against its spec."""

    wanted: int
    pods: int
    updated: int
    ready: int
    terminating: int
    generation: int
    observed: int

    @classmethod
    def of(cls, found: V1Deployment) -> _Rollout:
        """Read the counts, an omitted count being zero (as the API omits)."""
        status = found.status or client.V1DeploymentStatus()
        metadata = found.metadata or client.V1ObjectMeta()
        return cls(
            wanted=_replicas(found),
            pods=status.replicas or 0,
            updated=status.updated_replicas or 0,
            ready=status.ready_replicas or 0,
            terminating=status.terminating_replicas or 0,
            generation=metadata.generation or 0,
            observed=status.observed_generation or 0,
        )

    @property
    def done(self) -> bool:
        """Every pod wanted runs the current template and is ready; no other."""
        counts = {self.pods, self.updated, self.ready}
        return (
            self.observed >= self.generation
            and counts == {self.wanted}
            and self.terminating == 0
        )

    def __str__(self) -> str:
        return (
            f"{self.ready}/{self.wanted} ready, {self.updated} updated, "
            f"{self.pods} running, {self.terminating} terminating, "
            f"generation {self.observed}/{self.generation} observed"
        )


async def _wait_for_rollout(kube: _Kube) -> _Rollout:
    """Poll the Deployment until its rollout is done.

    Raises:
        ApplicationError: retryable, after ``ROLLOUT_TIMEOUT_SECONDS``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ROLLOUT_TIMEOUT_SECONDS
    while True:
        rollout = _Rollout.of(await kube.read())
        if rollout.done:
            return rollout
        if loop.time() >= deadline:
            raise ApplicationError(
                f"deployment {kube.label} did not roll out in "
                f"{ROLLOUT_TIMEOUT_SECONDS:.0f} s: {rollout}"
            )
        if activity.in_activity():
            beat(
                {
                    "deployment": kube.label,
                    "ready": rollout.ready,
                    "wanted": rollout.wanted,
                }
            )
        await asyncio.sleep(POLL_SECONDS)


async def _write_pointer(
    kube: _Kube, pointer: DatabasePointer, host: str, port: int
) -> bool:
    """Write the address into the pointer unless it holds it; whether it did."""
    values = {pointer.host_key: host, pointer.port_key: str(port)}
    found = await kube.read_pointer(pointer)
    if all(found.get(key) == value for key, value in values.items()):
        return False
    await kube.write_pointer(pointer, values)
    activity.logger.info(
        "%s %s/%s now holds database address %s:%d for deployment %s",
        pointer.kind,
        kube.namespace,
        pointer.name,
        host,
        port,
        kube.name,
    )
    return True


async def _mark_address(kube: _Kube, current: V1Deployment, address: str) -> bool:
    """Mark the pod template with ``address``, restarting running pods.

    Returns whether the template changed.
    """
    template = current.spec.template.metadata if current.spec else None
    marks = (template.annotations if template else None) or {}
    if marks.get(DATABASE_ADDRESS) == address:
        return False
    running = _replicas(current) > 0
    annotations = {DATABASE_ADDRESS: address}
    if running:
        annotations[RESTARTED_AT] = datetime.now(UTC).isoformat(timespec="seconds")
    await kube.patch_template(annotations)
    if running:
        activity.logger.info(
            "deployment %s restarted for database %s", kube.label, address
        )
    return True


@asynccontextmanager
async def _connect(
    cluster: KubernetesCluster | None, deployment: OdooDeployment
) -> AsyncIterator[_Kube]:
    """An API client for ``cluster``, closed when the step is done."""
    if deployment.kind != "kubernetes" or not deployment.namespace:
        raise ApplicationError(
            f"deployment {deployment.name} is of kind {deployment.kind}, not a "
            "Kubernetes Deployment with a namespace",
            type=BAD_INPUT,
            non_retryable=True,
        )
    api = await asyncio.to_thread(_api_client, cluster, deployment)
    try:
        yield _Kube(api, deployment, _credentials(cluster))
    finally:
        api.close()


def _api_client(
    cluster: KubernetesCluster | None, deployment: OdooDeployment
) -> ApiClient:
    """Build a client from the cluster settings, leaving the default alone.

    Raises:
        ApplicationError: non-retryable when the settings give no client.
    """
    settings = client.Configuration()
    context = cluster.context if cluster else None
    try:
        if cluster is not None and cluster.kubeconfig is not None:
            config.load_kube_config_from_dict(
                _kubeconfig(cluster.kubeconfig),
                context=context,
                client_configuration=settings,
                persist_config=False,
            )
        else:
            _load_own_config(settings, context)
    except ConfigException as exc:
        raise ApplicationError(
            f"deployment {deployment.name}: {_credentials(cluster)} gives no "
            f"usable Kubernetes client ({exc}); correct the inventory's "
            "kubernetes settings of its region",
            type=BAD_INPUT,
            non_retryable=True,
        ) from None
    return ApiClient(configuration=settings)


def _load_own_config(settings: client.Configuration, context: str | None) -> None:
    """The worker's own configuration: in-cluster, else ``~/.kube/config``.

    A named context can only be one of ``~/.kube/config``.
    """
    if context is None:
        try:
            config.load_incluster_config(client_configuration=settings)
            return
        except ConfigException:
            pass
    config.load_kube_config(
        context=context, client_configuration=settings, persist_config=False
    )


def _kubeconfig(ref: SecretRef) -> dict[str, Any]:
    """The kubeconfig ``ref`` holds, parsed; its text is never shown.

    Raises:
        ApplicationError: non-retryable when it does not resolve or parse.
    """
    try:
        content = resolve_secret(ref)
    except SecretError as exc:
        raise ApplicationError(
            f"kubeconfig {ref.describe()} does not resolve ({exc}); provide it "
            "where the worker runs",
            type=PRECONDITION_FAILED,
            non_retryable=True,
        ) from None
    try:
        parsed = yaml.safe_load(content)
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        # The parser's message quotes the text, which holds the token.
        raise ApplicationError(
            f"kubeconfig {ref.describe()} is not a kubeconfig YAML document",
            type=BAD_INPUT,
            non_retryable=True,
        )
    return parsed


def _credentials(cluster: KubernetesCluster | None) -> str:
    """Name where the credentials come from, never what they are."""
    if cluster is not None and cluster.kubeconfig is not None:
        return f"kubeconfig {cluster.kubeconfig.describe()}"
    return "the worker's own Kubernetes configuration"


def _replicas(found: V1Deployment) -> int:
    """The replicas the Deployment's spec asks for (the API's default is 1)."""
    if found.spec is None or found.spec.replicas is None:
        return 1
    return found.spec.replicas


def _recorded(found: V1Deployment) -> int | None:
    """The replicas a stop recorded on the Deployment, if any."""
    annotations = (found.metadata.annotations if found.metadata else None) or {}
    value = annotations.get(REPLICAS_BEFORE)
    return int(value) if value is not None and value.isdigit() else None


def _encoded(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _decoded(value: str | bytes) -> str:
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _step(
    deployment: OdooDeployment,
    action: _Action,
    *,
    replicas_before: int | None = None,
    detail: str,
) -> AppTierStep:
    return AppTierStep(
        deployment=deployment.name,
        region=deployment.region,
        action=action,
        replicas_before=replicas_before,
        detail=detail,
    )
