"""Inputs as a person types them in the Temporal UI's "Start Workflow" form.

A good small JSON object starts the runbook with safe defaults; a bad one
fails the run at once (not a workflow task retried for ever) with a message
that names the wrong field and lists what the input takes.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from odoo_dr.models import DrillInput
from tests.workflow.test_drill_workflow import WORKFLOWS, FakeDrillActivities
from workflows.region_move import SwitchoverWorkflow


async def start_by_name(env, workflow: str, argument: Any) -> Any:
    queue = f"wf-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[*WORKFLOWS, SwitchoverWorkflow],
        activities=FakeDrillActivities().all(),
    ):
        return await env.client.execute_workflow(
            workflow, argument, id=f"ui-{uuid.uuid4().hex[:8]}", task_queue=queue
        )


async def test_the_readme_json_starts_a_drill_with_safe_defaults(env):
    report = await start_by_name(
        env, "RestoreDrill", {"environment": "sandbox", "reason": "from the UI"}
    )
    assert report["verdict"] == "pass"
    assert report["reason"] == "from the UI"
    defaults = DrillInput(environment="sandbox")
    assert (defaults.backup_choice, defaults.validate_business) == ("newest", True)


@pytest.mark.parametrize(
    ("workflow", "argument", "said"),
    [
        (
            "RestoreDrill",
            {"environmnt": "sandbox"},
            "environment: Field required",
        ),
        (
            "RestoreDrill",
            {"environment": "sandbox", "backup_choice": "oldest"},
            "backup_choice: Input should be 'newest' or 'random'",
        ),
        (
            "Switchover",
            {"environment": "sandbox"},
            "reason: Field required",
        ),
    ],
)
async def test_a_malformed_input_fails_the_run_at_once_naming_the_field(
    env, workflow: str, argument: dict[str, Any], said: str
):
    with pytest.raises(WorkflowFailureError) as failed:
        await start_by_name(env, workflow, argument)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "BadInput"
    assert said in cause.message
    assert "It takes: environment, " in cause.message
