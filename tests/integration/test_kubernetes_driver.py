"""The Kubernetes driver of Odoo's app tier, through the official client.

Every test talks to a test double of the Kubernetes API server
(tests.doubles.kubernetes_api), not to a cluster, and needs no sandbox.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import activities.kubernetes as driver
from odoo_dr.errors import PRECONDITION_FAILED
from odoo_dr.inventory import (
    DatabasePointer,
    KubernetesCluster,
    OdooDeployment,
    SecretRef,
)
from tests.doubles.kubernetes_api import KubernetesApiDouble

TOKEN = "k8s-token-7f3a9c51e2"
STEP = 0.08
NAMESPACE = "odoo"
OLD_ADDRESS = {"HOST": "pg-a.internal", "PORT": "5432", "DB_NAME": "odoo"}


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver, "POLL_SECONDS", 0.02)


@pytest.fixture
def double() -> Iterator[KubernetesApiDouble]:
    with KubernetesApiDouble(token=TOKEN, step_seconds=STEP) as api:
        yield api


def cluster_with(tmp_path: Path, kubeconfig: str) -> KubernetesCluster:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(kubeconfig, encoding="utf-8")
    return KubernetesCluster(kubeconfig=SecretRef(file=path))


@pytest.fixture
def cluster(double: KubernetesApiDouble, tmp_path: Path) -> KubernetesCluster:
    return cluster_with(tmp_path, double.kubeconfig())


def odoo_web(
    *, replicas: int = 1, database: DatabasePointer | None = None
) -> OdooDeployment:
    return OdooDeployment(
        region="b",
        kind="kubernetes",
        name="odoo-web",
        namespace=NAMESPACE,
        replicas=replicas,
        database=database,
    )


def patches(double: KubernetesApiDouble) -> list[str]:
    return [r.path for r in double.requests if r.method == "PATCH"]


def statuses_after_last_patch(double: KubernetesApiDouble) -> list[dict[str, Any]]:
    """The Deployment statuses the double served since the driver's last PATCH."""
    path = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/odoo-web"
    last_patch = max(i for i, r in enumerate(double.requests) if r.method == "PATCH")
    return [
        r.answer["status"]
        for r in double.requests[last_patch + 1 :]
        if (r.method, r.path, r.code) == ("GET", path, 200)
    ]


def template_annotations(double: KubernetesApiDouble) -> dict[str, str]:
    template = double.deployment(NAMESPACE, "odoo-web")["spec"]["template"]
    return dict(template["metadata"].get("annotations", {}))


# quiesce


async def test_quiesce_scales_to_zero_and_waits_until_no_pod_is_left(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=3)

    step = await driver.quiesce_deployment(cluster, odoo_web())

    assert (step.action, step.replicas_before) == ("quiesced", 3)
    found = double.deployment(NAMESPACE, "odoo-web")
    assert found["spec"]["replicas"] == 0
    assert found["metadata"]["annotations"][driver.REPLICAS_BEFORE] == "3"
    assert patches(double)[-1].endswith("/deployments/odoo-web/scale")
    seen = statuses_after_last_patch(double)
    assert seen[0].get("replicas") == 3, "the first look came after the pods left"
    assert "replicas" not in seen[-1]
    assert "terminatingReplicas" not in seen[-1]


async def test_quiesce_of_a_stopped_deployment_is_unchanged(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=2)
    await driver.quiesce_deployment(cluster, odoo_web())
    sent = len(patches(double))

    step = await driver.quiesce_deployment(cluster, odoo_web())

    assert (step.action, step.replicas_before) == ("unchanged", 2)
    assert len(patches(double)) == sent


# point


async def test_point_writes_a_config_map_and_a_retry_is_unchanged(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    double.add_config_map(NAMESPACE, "odoo-db", OLD_ADDRESS)
    deployment = odoo_web(database=DatabasePointer(name="odoo-db"))

    first = await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)
    sent = len(patches(double))
    retry = await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)

    data = double.config_map(NAMESPACE, "odoo-db")["data"]
    assert data == {**OLD_ADDRESS, "HOST": "pg-b.internal", "PORT": "6432"}
    assert (first.action, retry.action) == ("pointed", "unchanged")
    assert len(patches(double)) == sent


async def test_point_writes_a_secret_in_base64_and_a_retry_is_unchanged(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    double.add_secret(NAMESPACE, "odoo-db", OLD_ADDRESS)
    pointer = DatabasePointer(
        kind="secret", name="odoo-db", host_key="HOST", port_key="PORT"
    )
    deployment = odoo_web(database=pointer)

    first = await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)
    retry = await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)

    values = double.secret_values(NAMESPACE, "odoo-db")
    assert values == {**OLD_ADDRESS, "HOST": "pg-b.internal", "PORT": "6432"}
    assert (first.action, retry.action) == ("pointed", "unchanged")


async def test_point_leaves_a_stopped_deployment_stopped(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    double.add_config_map(NAMESPACE, "odoo-db", OLD_ADDRESS)
    deployment = odoo_web(database=DatabasePointer(name="odoo-db"))

    await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)

    assert double.deployment(NAMESPACE, "odoo-web")["spec"]["replicas"] == 0
    assert driver.RESTARTED_AT not in template_annotations(double)


async def test_point_restarts_a_running_deployment_and_waits_for_the_rollout(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=2)
    double.add_config_map(NAMESPACE, "odoo-db", OLD_ADDRESS)
    deployment = odoo_web(database=DatabasePointer(name="odoo-db"))

    step = await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)

    assert step.action == "pointed"
    annotations = template_annotations(double)
    assert driver.RESTARTED_AT in annotations
    assert annotations[driver.DATABASE_ADDRESS] == "pg-b.internal:6432"
    seen = statuses_after_last_patch(double)
    assert "updatedReplicas" not in seen[0], "the first look came after the rollout"
    assert (seen[-1]["updatedReplicas"], seen[-1]["replicas"]) == (2, 2)
    assert "terminatingReplicas" not in seen[-1]


async def test_point_restarts_pods_that_a_crashed_attempt_did_not_restart(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=2)
    double.add_config_map(NAMESPACE, "odoo-db", {"HOST": "pg-b", "PORT": "6432"})
    deployment = odoo_web(database=DatabasePointer(name="odoo-db"))

    step = await driver.point_deployment(cluster, deployment, "pg-b", 6432)

    assert step.action == "pointed"
    assert template_annotations(double)[driver.DATABASE_ADDRESS] == "pg-b:6432"


async def test_point_without_a_database_pointer_is_skipped(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    step = await driver.point_deployment(cluster, odoo_web(), "pg-b.internal", 6432)

    assert step.action == "skipped"
    assert "database" in step.detail
    assert double.requests == []


# resume


async def test_resume_returns_to_the_recorded_replicas_and_waits_until_ready(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=3)
    await driver.quiesce_deployment(cluster, odoo_web(replicas=1))

    step = await driver.resume_deployment(cluster, odoo_web(replicas=1))

    assert (step.action, step.replicas_before) == ("resumed", 0)
    found = double.deployment(NAMESPACE, "odoo-web")
    assert found["spec"]["replicas"] == 3
    assert driver.REPLICAS_BEFORE not in found["metadata"].get("annotations", {})
    seen = statuses_after_last_patch(double)
    assert seen[0].get("readyReplicas", 0) < 3, "the first look came after readiness"
    assert seen[-1]["readyReplicas"] == 3


async def test_resume_without_a_record_takes_the_inventory_replicas(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)

    step = await driver.resume_deployment(cluster, odoo_web(replicas=2))

    assert step.action == "resumed"
    assert double.deployment(NAMESPACE, "odoo-web")["status"]["readyReplicas"] == 2


async def test_resume_of_a_running_deployment_is_unchanged(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=2)

    step = await driver.resume_deployment(cluster, odoo_web(replicas=2))

    assert step.action == "unchanged"
    assert patches(double) == []


async def test_waiting_heartbeats_ready_against_wanted(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    beats: list[Any] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.extend(details)

    @activity.defn
    async def resume() -> None:
        await driver.resume_deployment(cluster, odoo_web(replicas=3))

    await env.run(resume)

    assert beats, "no heartbeat while waiting"
    assert {beat["wanted"] for beat in beats} == {3}
    assert min(beat["ready"] for beat in beats) < 3


async def test_a_rollout_that_does_not_finish_is_retryable(
    double: KubernetesApiDouble,
    cluster: KubernetesCluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver, "ROLLOUT_TIMEOUT_SECONDS", 0.3)
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    double.stalled = True

    with pytest.raises(ApplicationError) as refused:
        await driver.resume_deployment(cluster, odoo_web(replicas=2))

    assert not refused.value.non_retryable
    assert "odoo/odoo-web" in refused.value.message
    assert "0/2 ready" in refused.value.message


# refusals


async def test_a_missing_deployment_is_non_retryable_and_named(
    cluster: KubernetesCluster,
) -> None:
    with pytest.raises(ApplicationError) as refused:
        await driver.quiesce_deployment(cluster, odoo_web())

    assert refused.value.non_retryable
    assert refused.value.type == PRECONDITION_FAILED
    assert "Deployment odoo-web in namespace odoo does not exist" in (
        refused.value.message
    )


async def test_a_missing_config_map_is_non_retryable_and_named(
    double: KubernetesApiDouble, cluster: KubernetesCluster
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=0)
    deployment = odoo_web(database=DatabasePointer(name="odoo-db"))

    with pytest.raises(ApplicationError) as refused:
        await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)

    assert refused.value.non_retryable
    assert "ConfigMap odoo-db in namespace odoo does not exist" in (
        refused.value.message
    )


async def test_a_refused_token_is_non_retryable_and_not_echoed(
    double: KubernetesApiDouble, tmp_path: Path
) -> None:
    double.add_deployment(NAMESPACE, "odoo-web", replicas=1)
    wrong = "k8s-wrong-token-0d9e8f"
    cluster = cluster_with(tmp_path, double.kubeconfig(token=wrong))

    with pytest.raises(ApplicationError) as refused:
        await driver.quiesce_deployment(cluster, odoo_web())

    assert refused.value.non_retryable
    assert "refused the credentials" in refused.value.message
    assert "401" in refused.value.message
    assert wrong not in str(refused.value)
    assert double.deployment(NAMESPACE, "odoo-web")["spec"]["replicas"] == 1


async def test_the_token_never_reaches_the_log(
    double: KubernetesApiDouble,
    cluster: KubernetesCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    double.add_deployment(NAMESPACE, "odoo-web", replicas=2)
    double.add_secret(NAMESPACE, "odoo-db", OLD_ADDRESS)
    deployment = odoo_web(database=DatabasePointer(kind="secret", name="odoo-db"))

    await driver.quiesce_deployment(cluster, deployment)
    await driver.point_deployment(cluster, deployment, "pg-b.internal", 6432)
    await driver.resume_deployment(cluster, deployment)

    assert caplog.records, "the driver logged nothing to look into"
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
