from __future__ import annotations

from odoo_dr.validation import CheckResult, Expectations
from tests.validation.conftest import OdooCopy

CRONS = "jobs.paused_crons"
QUEUE = "jobs.started_queue_jobs"
REMINDER = "Purchase reminder"


async def _jobs(
    odoo_copy: OdooCopy, name: str, paused_crons: tuple[str, ...] = ()
) -> CheckResult:
    expected = Expectations(
        database_uuid=odoo_copy.database_uuid, paused_crons=list(paused_crons)
    )
    return (await odoo_copy.validate("jobs", expected=expected))[name]


def _pause(odoo_copy: OdooCopy, cron: str) -> None:
    odoo_copy.execute("UPDATE ir_cron SET active = false WHERE cron_name = %s", (cron,))


def _finish_started_jobs(odoo_copy: OdooCopy) -> None:
    """A copy taken while no job ran: the seed leaves two jobs running."""
    odoo_copy.execute(
        "UPDATE queue_job SET state = 'done', date_done = date_started "
        "WHERE state = 'started'"
    )


async def test_healthy_copy_with_every_cron_active_passes(
    odoo_copy: OdooCopy,
) -> None:
    result = await _jobs(odoo_copy, CRONS)
    assert result.verdict == "pass", result.summary
    assert result.found["paused"] == 0


async def test_paused_cron_the_runbook_did_not_pause_warns(
    odoo_copy: OdooCopy,
) -> None:
    _pause(odoo_copy, REMINDER)
    result = await _jobs(odoo_copy, CRONS)
    assert result.verdict == "warn" and not result.critical
    assert result.found["paused_otherwise"] == 1
    assert result.examples[0].startswith(
        f"paused, not by the runbook: '{REMINDER}' (next call "
    )


async def test_cron_paused_for_the_recovery_passes_and_is_listed(
    odoo_copy: OdooCopy,
) -> None:
    _pause(odoo_copy, REMINDER)
    result = await _jobs(odoo_copy, CRONS, paused_crons=(REMINDER,))
    assert result.verdict == "pass"
    assert result.found["paused_for_recovery"] == 1
    assert result.examples[0].startswith(f"paused for the recovery: '{REMINDER}'")


async def test_cron_the_runbook_paused_but_active_again_warns(
    odoo_copy: OdooCopy,
) -> None:
    result = await _jobs(odoo_copy, CRONS, paused_crons=(REMINDER,))
    assert result.verdict == "warn"
    assert result.found["resumed_before_the_end"] == 1
    assert result.examples[0].startswith(
        f"paused by the runbook but active again: '{REMINDER}'"
    )


async def test_cron_the_runbook_paused_that_does_not_exist_warns(
    odoo_copy: OdooCopy,
) -> None:
    result = await _jobs(odoo_copy, CRONS, paused_crons=("Nightly backup",))
    assert result.verdict == "warn"
    assert result.examples == ["paused by the runbook but not found: 'Nightly backup'"]


async def test_no_queue_job_left_started_passes(odoo_copy: OdooCopy) -> None:
    _finish_started_jobs(odoo_copy)
    result = await _jobs(odoo_copy, QUEUE)
    assert result.verdict == "pass", result.summary


async def test_started_queue_job_warns_it_will_run_again(odoo_copy: OdooCopy) -> None:
    _finish_started_jobs(odoo_copy)
    job = odoo_copy.value("SELECT min(id) FROM queue_job WHERE state = 'done'")
    uuid, func_string = (
        odoo_copy.value("SELECT uuid FROM queue_job WHERE id = %s", (job,)),
        odoo_copy.value("SELECT func_string FROM queue_job WHERE id = %s", (job,)),
    )
    odoo_copy.execute(
        "UPDATE queue_job SET state = 'started', date_done = NULL WHERE id = %s",
        (job,),
    )
    result = await _jobs(odoo_copy, QUEUE)
    assert result.verdict == "warn" and not result.critical
    assert result.found["started"] == 1
    assert "will run again" in result.summary
    assert result.examples[0].startswith(f"job {uuid} {func_string} ")


async def test_seeded_copy_reports_the_jobs_it_left_running(
    odoo_copy: OdooCopy,
) -> None:
    result = await _jobs(odoo_copy, QUEUE)
    assert result.verdict == "warn"
    assert result.found["started"] == 2 and len(result.examples) == 2


async def test_queue_jobs_are_skipped_without_queue_job_installed(
    odoo_copy: OdooCopy,
) -> None:
    odoo_copy.execute("DELETE FROM ir_module_module WHERE name = 'queue_job'")
    result = await _jobs(odoo_copy, QUEUE)
    assert result.verdict == "skipped"
