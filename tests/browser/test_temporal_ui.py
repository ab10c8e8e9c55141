"""The incident commander's path through the Temporal web UI, in a browser.

Against the session sandbox's real UI (Temporal UI 2.54): a restore drill
started from the "Start Workflow" form, found again through a search
attribute query typed into the workflow list, read step by step in the run's
timeline, a sign-off gate answered with "Send a Signal" (refused for the
wrong person, then approved by the right one), and the drill's stored
evidence page. Each test asserts on what the page shows, so a missing step
summary, search attribute or chart fails it; the client only confirms.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Locator, Page, expect
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.worker import Worker

from activities.evidence import fetch_and_verify
from odoo_dr.approvals import GateState
from odoo_dr.evidence_render import render_html
from odoo_dr.models import DrillInput, DrillReport
from tests.browser.conftest import Screenshots, fresh_page
from tests.conftest import Sandbox
from workflows.drill import RestoreDrillWorkflow

T = TypeVar("T")

# What the incident commander types into the form: a drill without sign-off.
FORM_INPUT = {
    "environment": "sandbox",
    "reason": "restore drill started from the Temporal UI",
    "requested_by": "maria",
}
LIST_QUERY = 'OdooDrRunbook="restore-drill" AND OdooDrEnvironment="sandbox"'
# Activity type and the summary the runbook gives it, as the timeline shows.
STEP_SUMMARIES = [
    ("select_backup", "select backup"),
    ("restore_backup", "restore base backup"),
    ("start_restored_copy", "replay archived WAL"),
    ("isolate_copy", "neutralize and isolate copy"),
    ("count_tables", "count Odoo tables"),
]
GATE = "sign_off_payroll"
JONAS_REFUSED = "jonas holds none of the roles this gate needs (payroll_lead)"
# A sandbox drill takes well under a minute; the bound keeps a hang short.
DRILL_TIMEOUT = 300.0
POLL = 0.5


@dataclass
class FormDrill:
    """A drill started from the UI's form, and its report once it ended."""

    workflow_id: str
    run_id: str  # from the address of the page the UI's notice opened
    report: DrillReport


def run_url(ui_url: str, workflow_id: str, run_id: str, tab: str) -> str:
    return f"{ui_url}/namespaces/default/workflows/{workflow_id}/{run_id}/{tab}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float
) -> T:
    """The first truthy answer of ``probe``, polled for at most ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            while not (answer := await probe()):
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout:.0f} s") from None
    return answer


async def type_json(page: Page, form: Locator, value: dict[str, Any]) -> None:
    """Paste ``value`` into the "Data" editor of ``form``, then leave it.

    The editor reformats its text when it loses focus, which moves the
    buttons below it: a click on one of them then misses. Leaving the editor
    first keeps the next click on target.
    """
    editor = form.get_by_role("textbox", name="Data")
    await editor.click()
    # The signal dialog keeps what was sent last: replace all of it.
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.insert_text(json.dumps(value))
    await form.get_by_text("Encoding", exact=True).click()
    # Reformatted: one line per key (the editor is CodeMirror).
    await expect(editor.locator(".cm-line")).to_have_count(len(value) + 2)


async def scroll_to_top(locator: Locator) -> None:
    """Scroll the page so that ``locator`` is at the top of the viewport."""
    await locator.evaluate("element => element.scrollIntoView({block: 'start'})")


async def scroll_to_middle(locator: Locator) -> None:
    """Scroll ``locator`` to mid-height, every scroller back at its left edge."""
    await locator.evaluate(
        """element => {
            element.scrollIntoView({block: 'center'});
            for (let e = element.parentElement; e; e = e.parentElement) {
                e.scrollLeft = 0;
            }
        }"""
    )


async def open_run(page: Page, url: str, workflow_id: str) -> None:
    await page.goto(url)
    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()


async def expect_run_status(page: Page, status: str) -> None:
    """The status badge beside the run's title says ``status``."""
    badge = page.get_by_test_id("execution-status")
    await expect(badge).to_have_text(re.compile(rf"^\s*{status}\s*$", re.IGNORECASE))


async def query_gates(page: Page) -> str:
    """Run the ``gates`` query in the run's Queries tab; its result, unformatted.

    Without JSON formatting the result is one wrapped line, all of it in the
    page (the formatted view only draws the lines in sight).
    """
    await page.get_by_role("tab", name="Queries").click()
    query_type = page.get_by_role("textbox", name="Query Type")
    await page.get_by_role("button").filter(has=query_type).click()
    await page.get_by_role("option", name="gates", exact=True).click()
    if await page.get_by_role("switch", name="JSON Formatting").is_checked():
        await page.get_by_text("JSON Formatting", exact=True).click()
    await page.get_by_role("button", name=re.compile(r"^(Run|Refresh) Query$")).click()
    result = page.get_by_role("textbox", name="Query Result")
    await expect(result).to_contain_text(f'"name":"{GATE}"')
    return await result.inner_text()


async def send_signal(
    page: Page, screenshots: Screenshots, name: str, ballot: dict[str, Any], shot: str
) -> Locator:
    """More Actions, Send a Signal: pick ``name``, paste the ballot, submit.

    Returns the dialog once the UI's request to signal the run succeeded.
    UI 2.54 delivers a second signal sent from the same page, but its dialog
    then keeps spinning for good: reload the run's page between signals.
    """
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_role("menuitem", name="Send a Signal").click()
    dialog = page.get_by_role("dialog", name="Send a Signal")
    # The signal picker shows "Select a signal", or the signal sent last.
    picker = dialog.get_by_role("button").filter(has=page.get_by_role("textbox"))
    await picker.click()
    await dialog.get_by_role("option", name=name, exact=True).click()
    await type_json(page, dialog, ballot)
    await screenshots.take(page, shot)
    async with page.expect_response(
        lambda answer: (
            answer.request.method == "POST"
            and answer.url.split("?")[0].endswith(f"/signal/{name}")
        )
    ) as signalled:
        await dialog.get_by_role("button", name="Submit").click()
    answer = await signalled.value
    assert answer.ok, f"the UI's signal {name} was answered {answer.status}"
    return dialog


def ballot(person: str, request_id: str, comment: str) -> dict[str, Any]:
    return {
        "gate": GATE,
        "request_id": request_id,
        "person": person,
        "channel": "ui",
        "nonce": f"{person}-ui-{uuid.uuid4().hex[:12]}",
        "comment": comment,
    }


async def gate_of(handle: WorkflowHandle[Any, Any]) -> GateState | None:
    gates = await handle.query(RestoreDrillWorkflow.gates)
    return next((g for g in gates if g.name == GATE), None)


async def start_from_form(
    page: Page, ui_url: str, task_queue: str, shots: Screenshots
) -> tuple[str, str]:
    """Fill and submit the Start Workflow form as a person would.

    Returns the workflow id typed and the run id the UI's notice links to.
    """
    workflow_id = f"ui-drill-{uuid.uuid4().hex[:8]}"
    await page.goto(f"{ui_url}/namespaces/default/workflows")
    await page.get_by_role("link", name="Start Workflow").click()
    await expect(page.get_by_role("heading", name="Start Workflow")).to_be_visible()
    await page.get_by_role("textbox", name="Workflow ID").fill(workflow_id)
    await page.get_by_role("textbox", name="Task Queue").fill(task_queue)
    await page.get_by_role("textbox", name="Workflow Type").fill("RestoreDrill")
    await type_json(page, page.get_by_role("main"), FORM_INPUT)
    await expect(page.get_by_role("radio", name="json/plain")).to_be_checked()
    await scroll_to_top(page.get_by_text("Workflow ID", exact=True))
    await shots.take(page, "ui-start-form")
    await page.get_by_role("button", name="Start Workflow").click()
    # The notice links to the new run.
    await page.get_by_role("link", name="Workflow started successfully").click()
    await expect(page.get_by_role("heading", name=workflow_id)).to_be_visible()
    path = urlsplit(page.url).path.split("/")
    return workflow_id, path[path.index(workflow_id) + 1]


@pytest.fixture(scope="module")
async def form_drill(
    browser: Browser,
    ui_url: str,
    client: Client,
    worker: Worker,
    task_queue: str,
    seeded: str,
    screenshots: Screenshots,
) -> FormDrill:
    """A drill started from the UI's form by maria, waited for to the end."""
    async with fresh_page(browser) as page:
        workflow_id, run_id = await start_from_form(
            page, ui_url, task_queue, screenshots
        )
    handle = client.get_workflow_handle_for(RestoreDrillWorkflow.run, workflow_id)
    report = await asyncio.wait_for(handle.result(), DRILL_TIMEOUT)
    return FormDrill(workflow_id, run_id, report)


async def test_start_form_starts_a_drill_that_passes(
    form_drill: FormDrill, client: Client
):
    report = form_drill.report
    assert report.verdict == "pass", report.failure
    assert report.run_id == form_drill.run_id
    # The form's JSON reached the workflow as typed, through json/plain.
    assert (report.requested_by, report.reason) == ("maria", FORM_INPUT["reason"])
    history = await client.get_workflow_handle(form_drill.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.workflow_type.name == "RestoreDrill"
    (payload,) = started.input.payloads
    assert payload.metadata["encoding"] == b"json/plain"
    assert DrillInput.model_validate_json(payload.data) == DrillInput(**FORM_INPUT)


async def test_list_query_on_search_attributes_finds_the_drill(
    page: Page, ui_url: str, form_drill: FormDrill, screenshots: Screenshots
):
    await page.goto(f"{ui_url}/namespaces/default/workflows")
    await page.get_by_test_id("toggle-manual-query").click()
    box = page.get_by_role("searchbox", name="Enter a query")
    await box.fill(LIST_QUERY)
    await box.press("Enter")

    # The query becomes one filter chip per search attribute.
    for chip in ('OdooDrRunbook = "restore-drill"', 'OdooDrEnvironment = "sandbox"'):
        await expect(page.get_by_role("button", name=chip, exact=True)).to_be_visible()
    table = page.get_by_role("table", name="Workflows")
    row = table.get_by_role("row").filter(
        has=page.get_by_role("link", name=form_drill.workflow_id, exact=True)
    )
    await expect(row).to_contain_text("Completed")
    await expect(row).to_contain_text("RestoreDrill")
    await screenshots.take(page, "ui-workflows-filtered")

    await row.get_by_role("link", name=form_drill.workflow_id, exact=True).click()
    await expect(
        page.get_by_role("heading", name=form_drill.workflow_id)
    ).to_be_visible()
    await expect_run_status(page, "Completed")


async def test_timeline_names_each_step_in_the_runbooks_words(
    page: Page, ui_url: str, form_drill: FormDrill, screenshots: Screenshots
):
    url = run_url(ui_url, form_drill.workflow_id, form_drill.run_id, "timeline")
    await open_run(page, url, form_drill.workflow_id)

    for activity_type, summary in STEP_SUMMARIES:
        event = page.get_by_role("button", name=f"Event {activity_type}: Completed")
        await expect(event).to_contain_text(summary)
    await scroll_to_top(page.get_by_role("heading", name="Timeline", exact=True))
    await screenshots.take(page, "ui-run-activity-summaries")


async def start_gated_drill(
    client: Client, task_queue: str
) -> tuple[WorkflowHandle[Any, DrillReport], GateState]:
    """A drill maria starts whose payroll must be signed off; its open gate."""
    handle = await client.start_workflow(
        RestoreDrillWorkflow.run,
        DrillInput(
            environment="sandbox",
            reason="payroll sign-off from the Temporal UI",
            requested_by="maria",
            sign_off=["payroll"],
        ),
        id=f"ui-signoff-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )

    async def gate_open() -> GateState | None:
        gate = await gate_of(handle)
        return gate if gate and gate.outcome == "open" else None

    return handle, await eventually(gate_open, f"gate {GATE} opening", DRILL_TIMEOUT)


async def expect_refused_vote_shown(
    page: Page, handle: WorkflowHandle[Any, DrillReport]
) -> None:
    """Jonas's vote is refused with its reason; the run still waits."""

    async def refused() -> GateState | None:
        gate = await gate_of(handle)
        return gate if gate and gate.refused else None

    gate = await eventually(refused, "the refused vote of jonas", 30)
    assert [(r.person, r.reason) for r in gate.refused] == [("jonas", JONAS_REFUSED)]
    assert (gate.outcome, gate.votes) == ("open", [])
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    await query_gates(page)
    result = page.get_by_role("textbox", name="Query Result")
    await expect(result).to_contain_text(JONAS_REFUSED)
    await expect_run_status(page, "Running")
    await scroll_to_top(page.get_by_role("tab", name="Queries"))


async def test_ui_signal_from_jonas_is_refused_and_petras_approves(
    page: Page,
    ui_url: str,
    client: Client,
    worker: Worker,
    task_queue: str,
    seeded: str,
    screenshots: Screenshots,
):
    handle, gate = await start_gated_drill(client, task_queue)
    url = run_url(ui_url, handle.id, handle.result_run_id or "", "history")
    await open_run(page, url, handle.id)
    # The commander reads the gate's request id from the gates query.
    (shown,) = json.loads(await query_gates(page))
    assert shown["request_id"] == gate.request_id

    # Jonas leads payables, not payroll: his vote is kept, refused, with why.
    vote = ballot("jonas", gate.request_id, "payables look fine")
    dialog = await send_signal(
        page, screenshots, "approve_by_signal", vote, "ui-send-signal"
    )
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_text("Workflow signaled.").first).to_be_visible()
    await expect_refused_vote_shown(page, handle)
    await screenshots.take(page, "ui-signal-refused")

    # Petra leads payroll: her vote closes the gate and the drill goes on.
    await open_run(page, url, handle.id)
    vote = ballot("petra", gate.request_id, "March payslips match")
    dialog = await send_signal(
        page, screenshots, "approve_by_signal", vote, "ui-send-approval"
    )
    await expect(dialog).to_be_hidden()
    report = await asyncio.wait_for(handle.result(), DRILL_TIMEOUT)
    assert report.verdict == "pass", report.failure
    (approved,) = report.approvals
    assert approved.outcome == "approved"
    assert [(v.person, v.channel) for v in approved.votes] == [("petra", "ui")]

    await open_run(page, url, handle.id)
    await expect_run_status(page, "Completed")
    signals = page.get_by_role("row").filter(has_text="Workflow Execution Signaled")
    await expect(signals.filter(has_text="approve_by_signal")).to_have_count(2)
    await scroll_to_middle(signals.first)
    await screenshots.take(page, "ui-signal-approved")


async def test_evidence_page_shows_timeline_objectives_and_validation(
    page: Page,
    sandbox: Sandbox,
    form_drill: FormDrill,
    tmp_path: Path,
    screenshots: Screenshots,
):
    stored = form_drill.report.evidence
    assert stored is not None, form_drill.report.evidence_error
    store = sandbox.env.object_store.model_copy(update={"bucket": stored.bucket})
    check = await asyncio.to_thread(fetch_and_verify, store, stored.key, stored.sha256)
    assert check.matches and check.report is not None
    evidence = check.report
    html = tmp_path / "evidence.html"
    html.write_text(render_html(evidence), encoding="utf-8")

    await page.goto(html.as_uri())
    steps = page.locator("section#timeline svg.timeline g.step")
    await expect(steps).to_have_count(len(evidence.steps))
    for _activity_type, summary in STEP_SUMMARIES:
        await expect(steps.filter(has_text=summary)).to_have_count(1)
    objectives = page.locator("section#objectives .objective")
    assert evidence.objectives, "the drill was judged against no recovery tier"
    await expect(objectives).to_have_count(len(evidence.objectives))
    validation = page.locator("section#validation table.validation")
    await expect(validation).to_be_visible()
    checks = validation.locator("tbody tr")
    await expect(checks).to_have_count(len(evidence.validation))
    await screenshots.take(page, "evidence-page")
    await scroll_to_top(page.locator("section#timeline"))
    await screenshots.take(page, "evidence-timeline")
