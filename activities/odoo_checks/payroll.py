"""Payroll: can the firm pay its crews from this database?

Site crews are paid monthly from payslip batches. After a recovery the payroll
lead must be able to trust the newest batches as they stand: every payslip
there with its computed lines and no crew member dropped, each payslip's net
equal to what its lines add up to (the bank transfer is made from the net),
and no batch that is closed while some of its payslips are not, or the other
way round. A restore cut between two of Odoo's transactions, or a damaged
copy, shows up here before anyone reruns a batch and pays twice or not at all.

Odoo computes ``hr_payslip.net_wage`` from the line coded ``NET`` (and
``gross_wage`` from ``GROSS``). Salary rules run in sequence order: the lines
before ``GROSS`` are the earnings it adds up, the lines between ``GROSS`` and
``NET`` (deductions, and what a structure adds back) take the gross to the net,
and the lines after ``NET`` (the employer's contributions) are not part of it.

Nothing here logs an amount: amounts appear only in the results, which go to
the payroll lead's report.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import sql

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import CheckResult

# How many batches per company count as the newest ones.
NEWEST_RUNS = 3

# Payslip states (the same in Odoo 16, 17 and 18). A computed payslip is in
# 'verify' or later; a draft one may not have been computed yet.
SLIP_OPEN_STATES = ("draft", "verify")
SLIP_CLOSED_STATES = ("done", "paid")
SLIP_COMPUTED_STATES = ("verify", "done", "paid")

# The newest batches of each company, with a label a person finds them by.
# Parameters: the batch states that count (open and closed), the number kept.
_NEWEST_RUNS = sql.SQL("""
    ranked AS (
        SELECT r.id, r.company_id, r.state,
               format('%%s (%%s)', r.name, c.name) AS label,
               cur.name AS currency,
               row_number() OVER (
                   PARTITION BY r.company_id ORDER BY r.date_end DESC, r.id DESC
               ) AS rank
        FROM hr_payslip_run r
        JOIN res_company c ON c.id = r.company_id
        LEFT JOIN res_currency cur ON cur.id = c.currency_id
        WHERE r.state = ANY(%s)
    ),
    newest AS (SELECT * FROM ranked WHERE rank <= %s)""")


def _with_newest_runs(query: str) -> str:
    """A query whose WITH starts with the ``ranked`` and ``newest`` batches."""
    return (
        sql.SQL("WITH {newest}, {query}")
        .format(newest=_NEWEST_RUNS, query=sql.SQL(query))
        .as_string()
    )


# The payslips of the newest batches, those computed without lines, and the
# employees paid in a company's previous batch who have no payslip in the
# next one. Parameters after the two of _NEWEST_RUNS: the computed payslip
# states, twice.
_COMPLETENESS = _with_newest_runs("""
    slips AS (
        SELECT n.id AS run_id, n.label, s.id, s.number, s.name, s.state,
               s.net_wage,
               EXISTS (
                   SELECT 1 FROM hr_payslip_line l WHERE l.slip_id = s.id
               ) AS has_lines
        FROM newest n
        JOIN hr_payslip s ON s.payslip_run_id = n.id
    ),
    missing AS (
        SELECT n.label, e.id, e.name
        FROM newest n
        JOIN ranked previous
          ON previous.company_id = n.company_id AND previous.rank = n.rank + 1
        JOIN hr_payslip paid
          ON paid.payslip_run_id = previous.id AND paid.state <> 'cancel'
        JOIN hr_employee e
          ON e.id = paid.employee_id AND e.active AND e.company_id = n.company_id
        WHERE NOT EXISTS (
            SELECT 1 FROM hr_payslip s
            WHERE s.payslip_run_id = n.id AND s.employee_id = paid.employee_id
        )
    )
    SELECT
        (SELECT count(*) FROM slips),
        (SELECT count(*) FROM slips WHERE NOT has_lines AND state = ANY(%s)),
        (SELECT count(*) FROM slips WHERE NOT has_lines AND state = 'draft'),
        (SELECT count(*) FROM missing),
        ARRAY(
            SELECT jsonb_build_array(
                n.label, n.state, count(s.id),
                coalesce(sum(s.net_wage) FILTER (WHERE s.state <> 'cancel'), 0)::text,
                n.currency)
            FROM newest n LEFT JOIN slips s ON s.run_id = n.id
            GROUP BY n.id, n.label, n.state, n.currency, n.rank
            ORDER BY n.rank, n.label
        ),
        ARRAY(
            SELECT jsonb_build_array(coalesce(number, ''), name, label, state)
            FROM slips WHERE NOT has_lines AND state = ANY(%s)
            ORDER BY id LIMIT 10
        ),
        ARRAY(
            SELECT jsonb_build_array(name, label)
            FROM missing ORDER BY label, name, id LIMIT 10
        )
""")

# Per payslip of the newest batches: its NET and GROSS lines, what the lines
# before GROSS add up to, and what the lines between GROSS and NET add to it.
# The lines are read per payslip through the slip_id index. Each line is
# rounded to the cent on its own, so a sum may drift by half a cent per line
# before it counts as not adding up.
_NET = _with_newest_runs("""
    slips AS (
        SELECT s.id, s.number, s.name, s.net_wage, s.gross_wage, n.label
        FROM newest n
        JOIN hr_payslip s ON s.payslip_run_id = n.id
    ),
    sums AS (
        SELECT s.*, x.*
        FROM slips s
        CROSS JOIN LATERAL (
            SELECT count(*) AS lines,
                   sum(total) FILTER (WHERE code = 'GROSS') AS gross,
                   sum(total) FILTER (WHERE code = 'NET') AS net,
                   coalesce(sum(total) FILTER (WHERE sequence < gross_at), 0)
                       AS earnings,
                   count(*) FILTER (WHERE sequence < gross_at) AS earning_lines,
                   coalesce(sum(total) FILTER (
                       WHERE sequence > gross_at AND sequence < net_at), 0)
                       AS deductions,
                   count(*) FILTER (
                       WHERE sequence > gross_at AND sequence < net_at)
                       AS deduction_lines
            FROM (
                SELECT code, sequence, total,
                       max(sequence) FILTER (WHERE code = 'GROSS') OVER ()
                           AS gross_at,
                       max(sequence) FILTER (WHERE code = 'NET') OVER () AS net_at
                FROM hr_payslip_line
                WHERE slip_id = s.id
            ) line
        ) x
    ),
    judged AS (
        SELECT *,
               CASE
                   WHEN net IS NULL OR gross IS NULL THEN 'lines'
                   WHEN net_wage IS DISTINCT FROM net THEN 'net_wage'
                   WHEN gross_wage IS DISTINCT FROM gross THEN 'gross_wage'
                   WHEN abs(gross - earnings) > 0.005 * (earning_lines + 1)
                       THEN 'earnings'
                   WHEN abs(net - gross - deductions)
                        > 0.005 * (deduction_lines + 2) THEN 'deductions'
               END AS wrong
        FROM sums
        WHERE lines > 0
    )
    SELECT
        count(*),
        count(wrong),
        (array_agg(
            jsonb_build_array(
                wrong, coalesce(number, ''), name, label, net_wage::text,
                net::text, gross_wage::text, gross::text, earnings::text,
                deductions::text)
            ORDER BY id) FILTER (WHERE wrong IS NOT NULL))[1:10]
    FROM judged
""")

# Every batch with how many of its payslips are still open and already closed.
# Parameters: open slip states, closed slip states, open slip states.
_RUN_STATES = """
    SELECT format('%%s (%%s)', r.name, c.name), r.state,
           count(s.id) FILTER (WHERE s.state = ANY(%s)) AS open_slips,
           count(s.id) FILTER (WHERE s.state = ANY(%s)) AS closed_slips,
           count(s.id) AS slips,
           min(s.number) FILTER (WHERE s.state = ANY(%s)) AS first_open
    FROM hr_payslip_run r
    JOIN res_company c ON c.id = r.company_id
    LEFT JOIN hr_payslip s ON s.payslip_run_id = r.id
    GROUP BY r.id, r.name, c.name, r.state
    ORDER BY r.date_end DESC, r.id DESC
"""


def _run_states(ctx: CheckContext) -> list[str]:
    schema = ctx.schema
    return [*schema.payslip_run_open_states, *schema.payslip_run_closed_states]


def _amount(value: Any) -> str:
    """An amount as the payroll lead reads it, or 'none' where there is none."""
    return "none" if value is None else f"{Decimal(value):,.2f}"


@check("payroll.newest_runs_complete", "payroll", module="hr_payroll")
async def newest_runs_complete(ctx: CheckContext, this: Check) -> CheckResult:
    """Every payslip of the newest batches has its lines, and no one is missing.

    The newest three batches of each company are read. A payslip that Odoo
    has computed (state verify, done or paid) must have lines; a draft one may
    not have been computed yet and is only counted. An employee who is still
    active and was paid in the company's previous batch must have a payslip
    in the next one: a missing payslip means a crew member would go unpaid.
    """
    computed = list(SLIP_COMPUTED_STATES)
    row = await ctx.one(
        _COMPLETENESS, (_run_states(ctx), NEWEST_RUNS, computed, computed)
    )
    slips, without_lines, not_computed, missing, runs, empty, absent = row
    found = {
        "runs_checked": len(runs),
        "payslips": slips,
        "payslips_without_lines": without_lines,
        "draft_payslips_not_computed": not_computed,
        "employees_missing": missing,
    }
    expected = {"payslips_without_lines": 0, "employees_missing": 0}
    if not runs:
        return this.result(
            "warn",
            "no payslip batch found, so no payroll could be checked",
            found=found,
            hint="if the firm runs payroll in Odoo, its batches are missing: "
            "compare with the last payroll report before trusting this copy",
        )
    if without_lines or missing:
        examples = [
            f"{number} {name}, {state}, in batch {run}: no payslip lines"
            for number, name, run, state in empty
        ] + [
            f"{name}: paid in the batch before {run}, no payslip in it"
            for name, run in absent
        ]
        return this.result(
            "fail",
            f"{without_lines} computed payslip(s) without lines and {missing} "
            f"employee(s) without a payslip in the newest {len(runs)} batches",
            found=found,
            expected=expected,
            examples=examples,
            hint="do not validate or pay these batches: restore the payslips "
            "from a copy taken before the incident, or recompute the sheets "
            "and have the payroll lead check every one against the last report",
        )
    return this.result(
        "pass",
        f"the newest {len(runs)} batches hold {slips} payslips; every computed "
        "one has its lines and no one paid in the batch before is missing",
        found=found,
        expected=expected,
        examples=[
            f"{run}, {state}: {count} payslips, net {_amount(net)} {currency or ''}"
            for run, state, count, net, currency in runs
        ],
    )


@check("payroll.net_adds_up", "payroll", module="hr_payroll")
async def net_adds_up(ctx: CheckContext, this: Check) -> CheckResult:
    """Each payslip of the newest batches has the net its lines add up to.

    Per payslip: the earnings (lines before GROSS) add up to the GROSS line,
    GROSS plus the lines between it and NET equals the NET line, and the
    payslip's stored gross and net are those of its GROSS and NET lines, as
    Odoo computes them. A payslip whose lines do not add up would pay a
    different amount from the one its lines justify.
    """
    row = await ctx.one(_NET, (_run_states(ctx), NEWEST_RUNS))
    checked, wrong, offending = row
    found = {"payslips_checked": checked, "payslips_not_adding_up": wrong}
    expected = {"payslips_not_adding_up": 0}
    if wrong:
        return this.result(
            "fail",
            f"{wrong} of {checked} payslips in the newest batches do not add up "
            "to their net",
            found=found,
            expected=expected,
            examples=[_net_example(*values) for values in offending or []],
            hint="do not pay from these payslips: recompute their sheets in "
            "Odoo and have the payroll lead compare them with the last "
            "payroll report, or restore payroll from an earlier copy",
        )
    return this.result(
        "pass",
        f"all {checked} payslips of the newest batches add up to their net",
        found=found,
        expected=expected,
    )


def _net_example(
    wrong: str,
    number: str,
    name: str,
    run: str,
    net_wage: str | None,
    net: str | None,
    gross_wage: str | None,
    gross: str | None,
    earnings: str,
    deductions: str,
) -> str:
    """Say what does not add up on one payslip (``wrong`` names the sum)."""
    if wrong == "lines":
        problem = "has no NET or no GROSS line"
    elif wrong == "net_wage":
        problem = f"net {_amount(net_wage)} but its NET line is {_amount(net)}"
    elif wrong == "gross_wage":
        problem = f"gross {_amount(gross_wage)} but its GROSS line is {_amount(gross)}"
    elif wrong == "earnings":
        problem = (
            f"GROSS line {_amount(gross)} but earnings add up to {_amount(earnings)}"
        )
    else:
        added = Decimal(str(gross)) + Decimal(deductions)
        problem = (
            f"NET line {_amount(net)} but GROSS and the lines between add up "
            f"to {_amount(added)}"
        )
    return f"{number} {name} in batch {run}: {problem}"


@check("payroll.runs_closed_whole", "payroll", module="hr_payroll")
async def runs_closed_whole(ctx: CheckContext, this: Check) -> CheckResult:
    """No payslip batch is half closed.

    Odoo closes a batch in the same transaction that validates its last
    payslip, so a closed batch with payslips still draft or to verify, or an
    open batch whose payslips are all done or paid, is a torn or damaged
    copy. Batches of every period are read (there are few of them).
    """
    schema = ctx.schema
    open_slips, closed_slips = list(SLIP_OPEN_STATES), list(SLIP_CLOSED_STATES)
    runs = await ctx.rows(_RUN_STATES, (open_slips, closed_slips, open_slips))
    torn = []
    for label, state, opened, closed, slips, first_open in runs:
        if state in schema.payslip_run_closed_states and opened:
            torn.append(
                f"batch {label} is in state {state} but {opened} of its {slips} "
                f"payslips are still draft or to verify (first: {first_open})"
            )
        elif schema.is_open_payslip_run(state) and closed and not opened:
            torn.append(
                f"batch {label} is in state {state} but all {closed} of its "
                "non-cancelled payslips are done or paid"
            )
    found = {
        "runs": len(runs),
        "open_runs": sum(schema.is_open_payslip_run(run[1]) for run in runs),
        "half_closed_runs": len(torn),
    }
    expected = {"half_closed_runs": 0}
    if torn:
        return this.result(
            "fail",
            f"{len(torn)} payslip batch(es) half closed",
            found=found,
            expected=expected,
            examples=torn,
            hint="the copy was cut inside a batch's validation or is damaged: "
            "have the payroll lead check these batches against the last payroll "
            "report and the bank transfers before validating or paying anything",
        )
    return this.result(
        "pass",
        f"none of {len(runs)} payslip batches is half closed",
        found=found,
        expected=expected,
    )


CHECKS: tuple[Check, ...] = (newest_runs_complete, net_adds_up, runs_closed_whole)
