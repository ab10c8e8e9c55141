"""A test double of the Kubernetes API server. It is not Kubernetes.

It answers, on 127.0.0.1 and a free port, the REST paths and JSON objects
the official Python client sends and reads for odoo-dr's app-tier driver:

- ``GET``/``PATCH /apis/apps/v1/namespaces/NS/deployments/NAME``, and its
  ``/scale`` subresource (an ``autoscaling/v1`` Scale);
- ``GET``/``PATCH /api/v1/namespaces/NS/configmaps/NAME`` and ``.../secrets/NAME``.

Patches are taken as ``application/strategic-merge-patch+json`` (what the
client sends for a dict body) or ``application/merge-patch+json``, and both
are applied as a JSON merge patch: enough for patches that touch only maps,
which is all the driver sends. A JSON patch (a list body) is refused with
415. Unknown objects get a 404 ``Status`` as the real server words it, and a
request without the expected bearer token a 401.

A tiny controller stands in for the Deployment controller and the kubelet:
a spec change bumps ``metadata.generation``, and every ``step_seconds`` the
status moves one pod toward the spec (a new pod is started, or an extra or
outdated one is stopped; a stopped pod is reported in
``terminatingReplicas`` for one step). Status counts that are zero are
omitted, as the real server omits them. Pods are ready the moment they
start; there are no ReplicaSets, Pods or conditions.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple, cast

import yaml

from tests.doubles.loopback import LoopbackDouble, LoopbackServer

Object = dict[str, Any]

_DEPLOYMENT = re.compile(
    r"^/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)(/scale)?$"
)
_CORE = re.compile(r"^/api/v1/namespaces/([^/]+)/(configmaps|secrets)/([^/]+)$")
_MERGE_PATCHES = (
    "application/strategic-merge-patch+json",
    "application/merge-patch+json",
)
_GROUPS = {"deployments": "apps", "configmaps": "", "secrets": ""}


class Request(NamedTuple):
    """One request the double received, and what it answered."""

    method: str
    path: str
    content_type: str | None
    code: int
    answer: Object


class ApiStatus(Exception):
    """A failure the double answers with a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, **details: str):
        super().__init__(message)
        self.code = code
        self.body: Object = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        if details:
            self.body["details"] = details


@dataclass
class _Pods:
    """The pods of one Deployment, as the controller double counts them."""

    updated: int
    old: int = 0
    terminating: int = 0
    observed: int = 1
    next_step_at: float | None = None

    def step(self, wanted: int, generation: int) -> None:
        """Move one pod toward ``wanted``; last step's stopped pods are gone."""
        self.observed = generation
        self.terminating = 0
        if self.updated < wanted:
            self.updated += 1
        elif self.updated > wanted:
            self.updated -= 1
            self.terminating += 1
        elif self.old:
            self.old -= 1
            self.terminating += 1

    def settled(self, wanted: int, generation: int) -> bool:
        """Whether nothing is left to do."""
        return (
            self.observed >= generation
            and self.updated == wanted
            and not self.old
            and not self.terminating
        )

    def status(self) -> Object:
        """The Deployment's ``status``, zero counts omitted."""
        running = self.updated + self.old
        counts = {
            "replicas": running,
            "updatedReplicas": self.updated,
            "readyReplicas": running,
            "availableReplicas": running,
            "terminatingReplicas": self.terminating,
        }
        status: Object = {"observedGeneration": self.observed}
        status.update({key: value for key, value in counts.items() if value})
        return status


class KubernetesApiDouble(LoopbackDouble):
    """Deployments, ConfigMaps and Secrets of a Kubernetes API, in memory."""

    thread_name = "kubernetes-api-double"

    def __init__(self, *, token: str = "double-token", step_seconds: float = 0.05):
        self.token = token
        self.step_seconds = step_seconds
        self.stalled = False
        self.requests: list[Request] = []
        self._objects: dict[tuple[str, str, str], Object] = {}
        self._pods: dict[tuple[str, str], _Pods] = {}
        self._versions = iter(range(1000, 10**9))
        self._lock = threading.Lock()

    def kubeconfig(self, token: str | None = None) -> str:
        """A kubeconfig for the double, with ``token`` (default: the right one)."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": {"server": self.base_url}}],
            "users": [{"name": "odoo-dr", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": "double", "context": {"cluster": "double", "user": "odoo-dr"}}
            ],
            "current-context": "double",
        }
        return yaml.safe_dump(document, sort_keys=False)

    # objects, for tests

    def add_deployment(
        self,
        namespace: str,
        name: str,
        replicas: int = 1,
        *,
        annotations: dict[str, str] | None = None,
    ) -> Object:
        """Create a Deployment whose pods all run and are ready."""
        labels = {"app": name}
        deployment = self._new("apps/v1", "Deployment", namespace, name)
        deployment["metadata"]["generation"] = 1
        if annotations:
            deployment["metadata"]["annotations"] = dict(annotations)
        deployment["spec"] = {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "odoo", "image": "odoo:17.0"}]},
            },
        }
        with self._lock:
            pods = _Pods(updated=replicas)
            self._pods[(namespace, name)] = pods
            deployment["status"] = pods.status()
            self._objects[("deployments", namespace, name)] = deployment
        return copy.deepcopy(deployment)

    def add_config_map(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create a ConfigMap holding ``data``."""
        config_map = self._new("v1", "ConfigMap", namespace, name)
        config_map["data"] = dict(data)
        with self._lock:
            self._objects[("configmaps", namespace, name)] = config_map

    def add_secret(self, namespace: str, name: str, values: dict[str, str]) -> None:
        """Create an Opaque Secret holding ``values`` (encoded by the double)."""
        secret = self._new("v1", "Secret", namespace, name)
        secret["type"] = "Opaque"
        secret["data"] = {key: _b64(value) for key, value in values.items()}
        with self._lock:
            self._objects[("secrets", namespace, name)] = secret

    def deployment(self, namespace: str, name: str) -> Object:
        """The Deployment as a GET would return it now."""
        return self.read("deployments", namespace, name)

    def config_map(self, namespace: str, name: str) -> Object:
        """The ConfigMap as a GET would return it now."""
        return self.read("configmaps", namespace, name)

    def secret_values(self, namespace: str, name: str) -> dict[str, str]:
        """The Secret's data, decoded."""
        data = self.read("secrets", namespace, name).get("data", {})
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def read(self, resource: str, namespace: str, name: str) -> Object:
        """Any stored object, after the controller caught up with the clock."""
        with self._lock:
            self._advance()
            return copy.deepcopy(self._find(resource, namespace, name))

    # the API, for the handler

    def handle(self, method: str, path: str, body: Object | None) -> Object:
        """Answer one authorized GET or PATCH, or raise :class:`ApiStatus`."""
        patch = body if method == "PATCH" else None
        with self._lock:
            self._advance()
            return copy.deepcopy(self._route(path, patch))

    def _route(self, path: str, patch: Object | None) -> Object:
        found = _DEPLOYMENT.match(path)
        if found:
            namespace, name, scale = found.groups()
            target = self._find("deployments", namespace, name)
            if scale:
                return self._scale(target, patch)
            return target if patch is None else self._patch_deployment(target, patch)
        found = _CORE.match(path)
        if found is None:
            raise ApiStatus(
                404, "NotFound", "the server could not find the requested resource"
            )
        namespace, resource, name = found.groups()
        target = self._find(resource, namespace, name)
        return target if patch is None else self._patch_data(target, patch)

    def _scale(self, deployment: Object, body: Object | None) -> Object:
        if body is not None:
            wanted = body.get("spec", {}).get("replicas")
            if wanted is not None:
                spec = {**deployment["spec"], "replicas": wanted}
                self._patch_deployment(deployment, {"spec": spec})
        metadata = deployment["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: metadata[key]
                for key in ("name", "namespace", "uid", "resourceVersion")
            }
            | {"creationTimestamp": metadata["creationTimestamp"]},
            "spec": {"replicas": deployment["spec"]["replicas"]},
            "status": {
                "replicas": deployment["status"].get("replicas", 0),
                "selector": f"app={metadata['name']}",
            },
        }

    def _patch_deployment(self, deployment: Object, patch: Object) -> Object:
        before = copy.deepcopy(deployment["spec"])
        patched = merge_patch(deployment, patch)
        deployment.clear()
        deployment.update(patched)
        self._touch(deployment)
        if deployment["spec"] == before:
            return deployment
        metadata = deployment["metadata"]
        metadata["generation"] += 1
        pods = self._pods[(metadata["namespace"], metadata["name"])]
        if deployment["spec"]["template"] != before["template"]:
            pods.old, pods.updated = pods.old + pods.updated, 0
        if pods.next_step_at is None:
            pods.next_step_at = time.monotonic() + self.step_seconds
        return deployment

    def _patch_data(self, target: Object, patch: Object) -> Object:
        if target["kind"] == "Secret":
            for key, value in (patch.get("data") or {}).items():
                _check_base64(target["metadata"]["name"], key, value)
        patched = merge_patch(target, patch)
        target.clear()
        target.update(patched)
        self._touch(target)
        return target

    def _advance(self) -> None:
        """Let the controller do every step whose time has come."""
        now = time.monotonic()
        for (namespace, name), pods in self._pods.items():
            deployment = self._objects[("deployments", namespace, name)]
            wanted = deployment["spec"]["replicas"]
            generation = deployment["metadata"]["generation"]
            while (
                not self.stalled
                and pods.next_step_at is not None
                and now >= pods.next_step_at
            ):
                pods.step(wanted, generation)
                settled = pods.settled(wanted, generation)
                pods.next_step_at = (
                    None if settled else pods.next_step_at + self.step_seconds
                )
            deployment["status"] = pods.status()

    def _find(self, resource: str, namespace: str, name: str) -> Object:
        found = self._objects.get((resource, namespace, name))
        if found is None:
            group = _GROUPS[resource]
            qualified = f"{resource}.{group}" if group else resource
            raise ApiStatus(
                404,
                "NotFound",
                f'{qualified} "{name}" not found',
                name=name,
                group=group,
                kind=resource,
            )
        return found

    def _new(self, api_version: str, kind: str, namespace: str, name: str) -> Object:
        return {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(next(self._versions)),
                "creationTimestamp": "2026-12-01T08:00:00Z",
            },
        }

    def _touch(self, target: Object) -> None:
        target["metadata"]["resourceVersion"] = str(next(self._versions))


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7386): null removes, maps merge."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _check_base64(secret: str, key: str, value: Any) -> None:
    """Refuse Secret data that is not base64, as the real server does."""
    try:
        base64.b64decode(str(value), validate=True)
    except binascii.Error:
        raise ApiStatus(
            422,
            "Invalid",
            f'Secret "{secret}" is invalid: data[{key}]: illegal base64 data',
        ) from None


class _Handler(BaseHTTPRequestHandler):
    server_version = "kube-apiserver-double"

    @property
    def double(self) -> KubernetesApiDouble:
        return cast(LoopbackServer, self.server).double

    def do_GET(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path = self.path.split("?")[0]
        content_type = self.headers.get("Content-Type")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            if self.headers.get("Authorization") != f"Bearer {self.double.token}":
                raise ApiStatus(401, "Unauthorized", "Unauthorized")
            body = self._patch(content_type, raw) if self.command == "PATCH" else None
            code, answer = 200, self.double.handle(self.command, path, body)
        except ApiStatus as status:
            code, answer = status.code, status.body
        self.double.requests.append(
            Request(self.command, path, content_type, code, answer)
        )
        self._answer(code, answer)

    @staticmethod
    def _patch(content_type: str | None, raw: bytes) -> Object:
        """The body of a merge patch; other patch types are refused."""
        media_type = (content_type or "").split(";")[0].strip()
        if media_type not in _MERGE_PATCHES:
            raise ApiStatus(
                415,
                "UnsupportedMediaType",
                f"the double applies only merge patches, not {media_type!r}",
            )
        body = json.loads(raw or b"{}")
        if not isinstance(body, dict):
            raise ApiStatus(400, "BadRequest", "a merge patch is a JSON object")
        return body

    def _answer(self, code: int, body: Object) -> None:
        encoded = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean: no access log."""


KubernetesApiDouble.handler = _Handler  # defined after the double it serves
