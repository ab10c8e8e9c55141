"""Project cost: does each site still carry the hours and costs booked on it?

A construction firm steers its sites by what they cost: the crews' timesheets
and the vendor bills booked on each project's analytic account. After a
recovery the project controller needs the totals per project to compare with
the last cost report, and needs to know that the bookings still point where
they did: a timesheet on a project whose analytic account is another one, or
a booking on a project or account that is not in the copy, is what a partial
or damaged restore looks like (a table restored from another point, rows lost
before a constraint could refuse them).

Odoo keeps a project's analytic account in ``project_project`` (the column is
named by the Odoo version) and books a timesheet on the account of its
project. The totals are read in one pass over ``account_analytic_line``: a
sequential scan is the fastest way to total it, so no index is needed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from psycopg import sql

from activities.odoo_checks.base import Check, CheckContext, check
from odoo_dr.validation import CheckResult, Figure

# Lines grouped by account and project, then held against the projects and
# accounts they point to. One row per group: a few hundred rows at most.
_GROUPS = """
    WITH grouped AS (
        SELECT account_id, project_id, currency_id,
               count(*) AS lines,
               coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS cost,
               coalesce(sum(unit_amount) FILTER (
                   WHERE project_id IS NOT NULL), 0) AS hours
        FROM account_analytic_line
        GROUP BY account_id, project_id, currency_id
    )
    SELECT g.account_id, g.project_id, g.lines, g.cost, g.hours,
           cur.name,
           g.account_id IS NOT NULL AND a.id IS NULL AS missing_account,
           g.project_id IS NOT NULL AND p.id IS NULL AS missing_project,
           p.id IS NOT NULL AND p.{column} IS DISTINCT FROM g.account_id
               AS other_account
    FROM grouped g
    LEFT JOIN account_analytic_account a ON a.id = g.account_id
    LEFT JOIN project_project p ON p.id = g.project_id
    LEFT JOIN res_currency cur ON cur.id = g.currency_id
"""

# Every project with its analytic account, and whether that account exists.
_PROJECTS = """
    SELECT p.id, p.name->>'en_US', a.code, p.{column}, a.id IS NOT NULL
    FROM project_project p
    LEFT JOIN account_analytic_account a ON a.id = p.{column}
"""

# A few offending lines, named as the project controller finds them.
_OFFENDING = """
    SELECT l.id, l.date, l.name, e.name, l.project_id, p.name->>'en_US',
           coalesce(pa.code, p.{column}::text), l.account_id, a.code
    FROM account_analytic_line l
    LEFT JOIN project_project p ON p.id = l.project_id
    LEFT JOIN account_analytic_account pa ON pa.id = p.{column}
    LEFT JOIN account_analytic_account a ON a.id = l.account_id
    LEFT JOIN hr_employee e ON e.id = l.employee_id
    WHERE (l.project_id = ANY(%s) OR l.account_id = ANY(%s))
      AND (p.id IS NULL AND l.project_id IS NOT NULL
           OR a.id IS NULL AND l.account_id IS NOT NULL
           OR p.id IS NOT NULL AND p.{column} IS DISTINCT FROM l.account_id)
    ORDER BY l.date DESC, l.id DESC
    LIMIT 10
"""

_TOP_PROJECTS = 10


class _Group(NamedTuple):
    """Analytic lines of one account, project and currency, totalled."""

    account_id: int | None
    project_id: int | None
    lines: int
    cost: Decimal
    hours: float
    currency: str | None
    missing_account: bool
    missing_project: bool
    other_account: bool

    @property
    def broken(self) -> bool:
        return self.missing_account or self.missing_project or self.other_account


class _Project(NamedTuple):
    """A project, its analytic account and whether that account exists."""

    id: int
    name: str
    code: str | None
    account_id: int | None
    account_exists: bool

    @property
    def account_missing(self) -> bool:
        return self.account_id is not None and not self.account_exists


def _query(ctx: CheckContext, template: str) -> str:
    """A query with the version's analytic column of ``project_project``."""
    column = sql.Identifier(ctx.schema.project_analytic_column)
    return sql.SQL(template).format(column=column).as_string(ctx.conn)


@check("project_cost.analytic_lines", "project_cost", critical=False, module="project")
async def analytic_lines(ctx: CheckContext, this: Check) -> CheckResult:
    """Cost and hours per project, and every booking on its project's account.

    Totals: the costs (negative analytic amounts) on each project's analytic
    account, timesheets included, and the hours of the timesheets booked on
    the project, in the currency of the lines. It fails when lines point to a
    project whose analytic account is another one, to a project or an account
    that does not exist, or when a project's account is missing. A project
    whose account was changed on purpose keeps its old timesheets on the old
    account, which this check also reports: the hint says so. Not critical:
    wrong project costs mislead the controller but stop no payment.
    """
    groups = [_Group(*row) for row in await ctx.rows(_query(ctx, _GROUPS))]
    projects = [_Project(*row) for row in await ctx.rows(_query(ctx, _PROJECTS))]
    broken = [group for group in groups if group.broken]
    lost = [project for project in projects if project.account_missing]
    integrity: dict[str, Figure] = {
        "lines_on_another_account": sum(g.lines for g in broken if g.other_account),
        "lines_on_missing_project": sum(g.lines for g in broken if g.missing_project),
        "lines_on_missing_account": sum(g.lines for g in broken if g.missing_account),
        "projects_with_missing_account": len(lost),
    }
    figures = _figures(groups, projects) | integrity
    expected = dict.fromkeys(integrity, 0)
    if broken or lost:
        project_ids = [g.project_id for g in broken if g.project_id is not None]
        account_ids = [g.account_id for g in broken if g.account_id is not None]
        lines = await ctx.rows(_query(ctx, _OFFENDING), (project_ids, account_ids))
        examples = [
            f"project {project.name} (id {project.id}) points to analytic "
            f"account {project.account_id}, which does not exist"
            for project in lost
        ] + [_line_example(*line) for line in lines]
        return this.result(
            "fail",
            "analytic lines do not point to their project's analytic account: "
            + ", ".join(
                f"{key.replace('_', ' ')} {count}"
                for key, count in integrity.items()
                if count
            ),
            found=figures,
            expected=expected,
            examples=examples,
            hint="compare these projects with the last cost report: if a "
            "project's analytic account was changed on purpose, its old "
            "timesheets stay on the old account; otherwise the copy lost or "
            "mixed project data and project costs cannot be trusted",
        )
    return this.result(
        "pass",
        f"{figures['projects_with_costs']} of {len(projects)} projects carry "
        f"{figures['analytic_lines']} analytic lines, each on its project's account",
        found=figures,
        expected=expected,
        examples=_top_projects(groups, projects),
    )


def _figures(groups: list[_Group], projects: list[_Project]) -> dict[str, Figure]:
    """Counts of projects and lines, hours, and costs per currency."""
    figures: dict[str, Figure] = {
        "projects": len(projects),
        "projects_with_costs": len(_totals_by_project(groups, projects)),
        "analytic_lines": sum(group.lines for group in groups),
        "hours": round(sum(group.hours for group in groups), 2),
    }
    costs: dict[str, Decimal] = {}
    for group in groups:
        key = f"cost_{(group.currency or 'unknown').lower()}"
        costs[key] = costs.get(key, Decimal(0)) + group.cost
    return figures | {key: float(value) for key, value in sorted(costs.items())}


def _totals_by_project(
    groups: list[_Group], projects: list[_Project]
) -> dict[_Project, tuple[Decimal, float, str]]:
    """Per project: the costs on its account, the hours booked on it, currency."""
    cost: dict[int | None, Decimal] = {}
    hours: dict[int | None, float] = {}
    currency: dict[int | None, str] = {}
    for group in groups:
        cost[group.account_id] = cost.get(group.account_id, Decimal(0)) + group.cost
        hours[group.project_id] = hours.get(group.project_id, 0.0) + group.hours
        currency.setdefault(group.account_id, group.currency or "")
    return {
        project: (
            cost.get(project.account_id, Decimal(0)),
            hours.get(project.id, 0.0),
            currency.get(project.account_id, ""),
        )
        for project in projects
        if project.account_id in cost or project.id in hours
    }


def _top_projects(groups: list[_Group], projects: list[_Project]) -> list[str]:
    """The projects with the largest costs, as the controller reads them."""
    totals = _totals_by_project(groups, projects)
    top = sorted(totals.items(), key=lambda item: item[1][0], reverse=True)
    return [
        f"{project.name} ({project.code}): cost {cost:,.2f} {currency}, {hours:,.1f} h"
        for project, (cost, hours, currency) in top[:_TOP_PROJECTS]
    ]


def _line_example(
    line_id: int,
    day: Any,
    label: str,
    employee: str | None,
    project_id: int | None,
    project: str | None,
    project_account: str | None,
    account_id: int | None,
    account_code: str | None,
) -> str:
    """Say which analytic line points where it should not."""
    who = f" by {employee}" if employee else ""
    line = f"analytic line {line_id} '{label}'{who} on {day}"
    if project_id is not None and project is None:
        return f"{line}: project id {project_id} does not exist"
    if account_id is not None and account_code is None:
        return f"{line}: analytic account id {account_id} does not exist"
    return (
        f"{line}: on project {project} (account {project_account or 'none'}) "
        f"but booked on account {account_code or 'none'}"
    )


CHECKS: tuple[Check, ...] = (analytic_lines,)
