"""The evidence report as pages people read: HTML and Markdown.

The HTML page stands alone: its style is inline, its charts are inline SVG
(the steps on a timeline, each objective as a bar, a drill's RTO and RPO
against past drills), it loads nothing (its content security policy forbids
every fetch), runs no script, and prints on A4 paper with the link to the
run spelled out. Every value from the report is escaped, the text inside the
charts too, since reasons, comments, step names and check summaries are
typed by people or read from databases. The only address in the page is the
run's Temporal UI link.

Browser tests may rely on these hooks: sections ``#objectives``,
``#timeline``, ``#trend`` (drills only), ``#validation``, ``#approvals``,
``#steps``; ``tr.objective`` rows with ``met``, ``missed`` or ``unknown``;
``svg.timeline`` with one ``g.step`` per step (``g.step.wait`` for waits for
people) carrying ``data-outcome``; ``table.validation`` rows
``verdict-<verdict>``; ``svg.trend`` with ``g.series[data-measure=RTO]`` and
``[data-measure=RPO]``, each with one ``g.point`` per drill. Every chart
element a reader may ask about has a ``<title>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from odoo_dr.evidence import (
    EvidenceCheck,
    EvidenceGate,
    EvidenceReport,
    EvidenceStep,
    Measure,
    Objective,
    TrendPoint,
    moment,
)
from odoo_dr.validation import Figure

_TITLES = {
    "restore-drill": "Restore drill",
    "switchover": "Switchover",
    "failover": "Failover",
    "failback": "Failback",
    "validation": "Business validation",
}
# The colour class of each verdict word; anything else is drawn grey.
_TONE = {
    "pass": "good",
    "met": "good",
    "approved": "good",
    "done": "good",
    "warn": "caution",
    "aborted": "caution",
    "timed_out": "caution",
    "fail": "bad",
    "failed": "bad",
    "missed": "bad",
    "rejected": "bad",
}
_DECIDED = {"approve": "approved", "reject": "rejected"}
# Where a long identifier (a check's name, a figure's) may wrap in a narrow cell.
_WRAP_AFTER = re.compile(r"([._/])")

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 2rem auto;
  max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem;
  margin-top: 2rem; }
h3 { font-size: 1rem; margin-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; white-space: nowrap; }
td.time { white-space: nowrap; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.run dt { font-weight: 600; }
dl.run dd { margin: 0; }
.verdict { display: inline-block; font-weight: 700; padding: .1rem .6rem;
  border-radius: .3rem; color: #fff; background: #57606a; }
.verdict.good { background: #1a7f37; }
.verdict.caution { background: #9a6700; }
.verdict.bad { background: #cf222e; }
span.good { color: #1a7f37; font-weight: 600; }
span.caution { color: #9a6700; font-weight: 600; }
span.bad { color: #cf222e; font-weight: 600; }
span.other { color: #57606a; font-weight: 600; }
p.failure { border-left: 4px solid #cf222e; padding-left: .6rem; }
p.note, footer, span.areas { color: #57606a; }
footer { margin-top: 2rem; font-size: .85rem; }
svg.timeline, svg.trend { display: block; width: 100%; height: auto;
  font: 13px system-ui, sans-serif; }
svg text { fill: #1f2328; }
svg .axis text, svg text.caption { fill: #57606a; }
svg text.panel { font-weight: 700; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1.2rem;
  padding: 0; margin: .4rem 0; color: #57606a; font-size: .9rem; }
ul.legend svg { vertical-align: -1px; margin-right: .35rem; }
table.objectives td { vertical-align: middle; }
table.objectives td.reading { font-weight: 600; white-space: nowrap; }
tr.objective.met td.reading { color: #1a7f37; }
tr.objective.missed td.reading { color: #cf222e; }
tr.objective.unknown td.reading { color: #57606a; }
td.gauge { width: 300px; }
svg.gauge { display: block; }
table.validation tr > td:first-child { border-left: 4px solid #d0d7de; }
table.validation tr.verdict-pass > td:first-child { border-left-color: #1a7f37; }
table.validation tr.verdict-warn { background: #fff8c5; }
table.validation tr.verdict-warn > td:first-child { border-left-color: #9a6700; }
table.validation tr.verdict-fail { background: #ffebe9; }
table.validation tr.verdict-fail > td:first-child { border-left-color: #cf222e; }
table.validation tr.verdict-skipped { color: #57606a; }
@media print {
  body { font-size: 10pt; margin: 0; max-width: none; padding: 0; }
  table { font-size: 9pt; }
  td { overflow-wrap: break-word; }
  td.time { white-space: normal; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: 8pt; }
  tr, dl.run, p, svg, ul.legend, div.gate, section#objectives, section#trend {
    break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .verdict, th, tr, svg, ul.legend { print-color-adjust: exact;
    -webkit-print-color-adjust: exact; }
}
@page { size: A4; margin: 15mm; }
"""


def title(report: EvidenceReport) -> str:
    """The report's heading: the runbook and the environment."""
    runbook = _TITLES.get(report.runbook, report.runbook)
    return f"{runbook} of {report.environment}"


def duration(seconds: float | None) -> str:
    """A span as a person reads it: 42.0 s, 3 min 05 s, 2 h 10 min."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def figures(values: dict[str, Figure]) -> str:
    """Figures as ``name: value`` pairs, in the order the check gave them."""
    return ", ".join(f"{name}: {value}" for name, value in values.items())


def _took(step: EvidenceStep) -> str:
    return duration(step.seconds) if step.ended_at else "did not end"


def _run_span(report: EvidenceReport) -> str:
    if report.ended_at is None:
        return "did not end"
    return duration((report.ended_at - report.started_at).total_seconds())


def _ui_link(report: EvidenceReport) -> str | None:
    """The UI address, when it is one a browser may follow."""
    url = report.ui_url
    return url if url and url.startswith(("http://", "https://")) else None


# --- HTML --------------------------------------------------------------------


def render_html(report: EvidenceReport) -> str:
    """The report as one self-contained, printable HTML page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title(report))}: {_h(report.verdict)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        _html_header(report),
        _html_objectives(report),
        _html_timeline(report),
        _html_trend(report),
        _html_validation(report),
        _html_approvals(report),
        _html_steps(report),
        _html_facts(report),
        '<section id="immutability"><h2>Immutability of the stored copy</h2>'
        f"<p>{_h(report.immutability)}</p></section>",
        "<footer>Evidence schema "
        f"{_h(report.schema_version)}. The SHA-256 of this report's JSON form is "
        "recorded in the run's Temporal history; <code>odoo-dr report "
        f"{_h(report.workflow_id)}</code> fetches the stored copy and checks "
        "it.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _h(value: object) -> str:
    return escape(str(value), quote=True)


def _badge(word: str, tag: str = "span") -> str:
    tone = _TONE.get(word, "other")
    label = word.replace("_", " ")
    if tag == "span":
        return f'<span class="{tone}">{_h(label)}</span>'
    return f'<{tag} class="verdict {tone}">{_h(label.upper())}</{tag}>'


def _html_header(report: EvidenceReport) -> str:
    link = _ui_link(report)
    if link:
        ui = f'<a href="{_h(link)}">open the run in the Temporal UI</a>'
    else:
        ui = _h(report.ui_url or "no UI address was known")
    rows = [
        ("started by", _h(report.requested_by)),
        ("reason", _h(report.reason)),
        ("started", _h(moment(report.started_at))),
        ("ended", _h(moment(report.ended_at))),
        ("took", _h(_run_span(report))),
        ("workflow id", f"<code>{_h(report.workflow_id)}</code>"),
        ("run id", f"<code>{_h(report.run_id)}</code>"),
        ("history", ui),
    ]
    listing = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    failure = (
        f'<p class="failure"><strong>Failure:</strong> {_h(report.failure)}</p>'
        if report.failure
        else ""
    )
    return (
        f"<header><h1>{_h(title(report))}</h1>"
        f"<p>Verdict: {_badge(report.verdict, 'strong')}</p>"
        f'<dl class="run">{listing}</dl>{failure}</header>'
    )


def _section(hook: str, heading: str, body: str) -> str:
    return f'<section id="{hook}"><h2>{_h(heading)}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="note">{_h(text)}</p>'


def _html_table(
    headings: list[str],
    rows: list[list[str]],
    css: str = "",
    row_classes: list[str] | None = None,
) -> str:
    """A table of cells already escaped; ``row_classes`` go one to a row."""
    head = "".join(f"<th>{_h(h)}</th>" for h in headings)
    classes = row_classes or [""] * len(rows)
    body = "".join(
        (f'<tr class="{_h(cls)}">' if cls else "<tr>") + "".join(row) + "</tr>"
        for cls, row in zip(classes, rows, strict=True)
    )
    table = f' class="{_h(css)}"' if css else ""
    return f"<table{table}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _breakable(text: str) -> str:
    """Escaped text that may wrap after the dots and underscores of identifiers."""
    return _WRAP_AFTER.sub(r"\1<wbr>", _h(text))


def _td(value: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{_h(value)}</td>"


def _html_steps(report: EvidenceReport) -> str:
    if not report.steps:
        return _section("steps", "Steps", _note("No step ran."))
    rows = [
        [
            _td(step.name),
            _td(moment(step.started_at), "time"),
            _td(moment(step.ended_at) if step.ended_at else "-", "time"),
            _td(_took(step), "num"),
            f"<td>{_badge(step.outcome)}</td>",
            _td(step.detail),
        ]
        for step in report.steps
    ]
    headings = ["step", "started", "ended", "took", "outcome", "detail"]
    return _section("steps", "Steps", _html_table(headings, rows, "steps"))


def _html_approvals(report: EvidenceReport) -> str:
    if not report.approvals:
        return _section("approvals", "Approvals", _note("No gate opened in this run."))
    gates = "".join(_html_gate(gate) for gate in report.approvals)
    return _section("approvals", "Approvals", gates)


def _html_gate(gate: EvidenceGate) -> str:
    closed = f", closed {moment(gate.closed_at)}" if gate.closed_at else ""
    rows = [
        [
            _td(vote.person),
            _td(vote.role),
            f"<td>{_badge(_DECIDED.get(vote.decision, vote.decision))}</td>",
            _td(moment(vote.at)),
            _td(vote.channel),
            _td(vote.verified_signer or "not signed"),
            _td(vote.comment),
        ]
        for vote in gate.votes
    ]
    table = (
        _html_table(
            ["person", "role", "decision", "at", "channel", "signed by", "comment"],
            rows,
            "votes",
        )
        if rows
        else _note("No vote counted.")
    )
    refused = "".join(f"<li>{_h(line)}</li>" for line in gate.refused)
    return (
        f'<div class="gate"><h3>{_h(gate.gate)}: {_badge(gate.outcome)}</h3>'
        f"<p>{_h(gate.what)} (opened {_h(moment(gate.opened_at))}{_h(closed)})</p>"
        + table
        + (f"<p>Votes that did not count:</p><ul>{refused}</ul>" if refused else "")
        + "</div>"
    )


def _html_validation(report: EvidenceReport) -> str:
    heading = "Business validation"
    if report.validation_verdict is None:
        return _section(
            "validation", heading, _note("Business validation did not run.")
        )
    table = _html_table(
        ["check", "area", "verdict", "summary", "found", "expected", "hint"],
        [_html_check(check) for check in report.validation],
        "validation",
        [f"verdict-{check.verdict}" for check in report.validation],
    )
    verdict = (
        f"<p>Overall verdict: {_badge(report.validation_verdict)}, on "
        f"{_h(report.validation_target or 'the target')}.</p>"
    )
    return _section("validation", heading, verdict + table)


def _html_check(check: EvidenceCheck) -> list[str]:
    verdict = _badge(check.verdict)
    if not check.critical:
        verdict += " (not critical)"
    return [
        f"<td>{_breakable(check.name)}</td>",
        _td(check.area),
        f"<td>{verdict}</td>",
        _td(check.summary),
        f"<td>{_breakable(figures(check.found))}</td>",
        f"<td>{_breakable(figures(check.expected))}</td>",
        _td(check.hint),
    ]


def _html_facts(report: EvidenceReport) -> str:
    if not report.facts:
        return ""
    rows = [[_td(fact.label), _td(fact.value)] for fact in report.facts]
    return _section("facts", "Facts", _html_table(["what", "value"], rows, "facts"))


# --- HTML: objectives against measurements -----------------------------------

# The gauge's length in pixels: the objective, or the figure when it is larger.
_GAUGE = 300


def objective_reading(row: Objective) -> str:
    """One objective as a sentence: ``RTO 42 s of 1 h: met``."""
    target = brief(row.objective_seconds)
    if row.measured_seconds is None:
        return f"{row.measure} not measured, objective {target}: {row.verdict}"
    return f"{row.measure} {brief(row.measured_seconds)} of {target}: {row.verdict}"


def _html_objectives(report: EvidenceReport) -> str:
    if report.objectives:
        rows = "".join(_objective_row(row) for row in report.objectives)
        body = (
            '<table class="objectives"><thead><tr><th>tier</th>'
            "<th>measured of objective</th><th>against the objective</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    else:
        body = _note("The inventory sets no recovery tier for this environment.")
    how = "".join(
        f"<li><strong>{_h(m.measure)}</strong> {_h(duration(m.seconds))}: "
        f"{_h(m.basis)}</li>"
        for m in report.measurements
    )
    if how:
        body += f"<p>What was measured:</p><ul>{how}</ul>"
    return _section("objectives", "Recovery objectives", body)


def _objective_row(row: Objective) -> str:
    areas = ", ".join(row.areas)
    tier = _h(row.tier) + (
        f'<br><span class="areas">{_h(areas)}</span>' if areas else ""
    )
    return (
        f'<tr class="objective {_h(row.verdict)}"><td>{tier}</td>'
        f'<td class="reading">{_h(objective_reading(row))}</td>'
        f'<td class="gauge">{_gauge(row)}</td></tr>'
    )


def _gauge(row: Objective) -> str:
    """A bar of the measured figure, with a mark where the objective ends."""
    label = f"tier {row.tier}: {objective_reading(row)}"
    objective, measured = row.objective_seconds, row.measured_seconds
    if measured is None:
        bars = (
            f'<rect x="0.5" y="3.5" width="{_GAUGE - 1}" height="10" fill="#f6f8fa" '
            'stroke="#8c959f" stroke-dasharray="4 3"/>'
        )
    elif measured <= objective:
        filled = _GAUGE * measured / objective if objective else 0.0
        bars = (
            f'<rect x="0" y="3" width="{_GAUGE}" height="11" fill="#eaeef2"/>'
            f'<rect x="0" y="3" width="{filled:.1f}" height="11" fill="#1a7f37"/>'
            + _gauge_mark(_GAUGE - 1.0)
        )
    else:
        mark = _GAUGE * objective / measured
        bars = (
            f'<rect x="0" y="3" width="{_GAUGE}" height="11" fill="#cf222e"/>'
            f'<rect x="0" y="3" width="{mark:.1f}" height="11" fill="#f5a3a8"/>'
            + _gauge_mark(mark)
        )
    return (
        f'<svg class="gauge" width="{_GAUGE}" height="17" '
        f'viewBox="0 0 {_GAUGE} 17" role="img" aria-label="{_h(label)}">'
        f"<title>{_h(label)}</title>{bars}</svg>"
    )


def _gauge_mark(x: float) -> str:
    return f'<rect x="{x - 1:.1f}" y="0" width="2" height="17" fill="#1f2328"/>'


# --- HTML: the step timeline --------------------------------------------------

# The charts' width in SVG units: a laptop shows them close to 1:1, A4 paper
# at about three quarters.
_WIDTH = 900
_NAMES = 290  # the timeline's column of step names
_ROW = 24
_CLIP = 36  # characters of a step name the column has room for
_OUTCOMES = ("done", "failed", "skipped", "running")
_COLOUR = {
    "done": "#1a7f37",
    "failed": "#cf222e",
    "skipped": "#8c959f",
    "running": "#bf8700",
    "other": "#57606a",
}
# Steps that wait for people rather than machines.
_WAITS = ("approval:", "sign-off of")


def is_wait(step: EvidenceStep) -> bool:
    """Whether the step waits for people: an approval gate or a sign-off."""
    return step.name.startswith(_WAITS)


def _html_timeline(report: EvidenceReport) -> str:
    if not report.steps:
        return _section("timeline", "Timeline", _note("No step ran."))
    origin = min([report.started_at] + [s.started_at for s in report.steps])
    ends = [s.ended_at or s.started_at for s in report.steps]
    last = max([report.ended_at or origin, *ends])
    span = max((last - origin).total_seconds(), 1.0)
    rows = [
        _timeline_row(step, index, origin, span)
        for index, step in enumerate(report.steps)
    ]
    height = 8 + _ROW * len(rows)
    svg = (
        f'<svg class="timeline" viewBox="0 0 {_WIDTH} {height + 44}" role="img" '
        f'aria-label="{len(rows)} steps over {_h(brief(span))}">'
        + _hatches()
        + "".join(rows)
        + _time_axis(span, height)
        + "</svg>"
    )
    return _section("timeline", "Timeline", svg + _timeline_legend())


def _timeline_row(step: EvidenceStep, index: int, origin: datetime, span: float) -> str:
    top = 8 + index * _ROW
    start = (step.started_at - origin).total_seconds()
    stop = (step.ended_at - origin).total_seconds() if step.ended_at else span
    left = _at(start, span)
    width = max(_at(stop, span) - left, 2.0)
    tone = step.outcome if step.outcome in _COLOUR else "other"
    wait = is_wait(step)
    took = brief(step.seconds) if step.seconds is not None else "did not end"
    said = f"waited {took} for people" if wait else took
    label = f"{step.name}: {said} (from +{brief(start)}), {step.outcome}"
    stripe = (
        f'<rect x="0" y="{top}" width="{_WIDTH}" height="{_ROW}" fill="#f6f8fa"/>'
        if index % 2 == 0
        else ""
    )
    fill = f"url(#wait-{tone})" if wait else _COLOUR[tone]
    unended = "" if step.ended_at else ' stroke-dasharray="5 3" fill-opacity="0.5"'
    return (
        f'<g class="{"step wait" if wait else "step"}" data-outcome="{_h(tone)}">'
        f"<title>{_h(label)}</title>{stripe}"
        f'<text x="{_NAMES - 10}" y="{top + 16}" text-anchor="end">'
        f"{_h(_clip(step.name))}</text>"
        f'<rect class="bar" x="{left:.1f}" y="{top + 5}" width="{width:.1f}" '
        f'height="{_ROW - 10}" fill="{fill}" stroke="{_COLOUR[tone]}" '
        f'stroke-width="1.5"{unended}/></g>'
    )


def _at(seconds: float, span: float) -> float:
    """Where a moment ``seconds`` after the run's start falls on the timeline."""
    return _NAMES + (_WIDTH - _NAMES - 30) * seconds / span


def _clip(name: str) -> str:
    return name if len(name) <= _CLIP else name[: _CLIP - 1] + "\u2026"


def _hatches() -> str:
    """Diagonal stripes in each outcome's colour: how a wait for people is drawn."""
    patterns = "".join(
        f'<pattern id="wait-{tone}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<rect width="3" height="6" fill="{colour}"/></pattern>'
        for tone, colour in _COLOUR.items()
    )
    return f"<defs>{patterns}</defs>"


def _time_axis(span: float, bottom: int) -> str:
    step = _tick_step(span, 8)
    ticks = "".join(
        f'<line x1="{_at(t, span):.1f}" y1="8" x2="{_at(t, span):.1f}" '
        f'y2="{bottom + 4}" stroke="#d0d7de"/>'
        f'<text x="{_at(t, span):.1f}" y="{bottom + 18}" text-anchor="middle">'
        f"{'0' if t == 0 else '+' + brief(t)}</text>"
        for t in _ticks(span, step)
    )
    caption = (
        f'<text x="{_NAMES}" y="{bottom + 36}" class="caption">time from the '
        "run's start</text>"
    )
    return f'<g class="axis">{ticks}{caption}</g>'


def _timeline_legend() -> str:
    items = [
        (f'<rect width="22" height="10" fill="{_COLOUR[tone]}"/>', tone)
        for tone in _OUTCOMES
    ]
    items.append(
        (
            '<rect x="0.75" y="0.75" width="20.5" height="8.5" fill="url(#wait-done)" '
            f'stroke="{_COLOUR["done"]}" stroke-width="1.5"/>',
            "waiting for people (approval, sign-off)",
        )
    )
    items.append(
        (
            '<rect x="0.75" y="0.75" width="20.5" height="8.5" fill="#57606a" '
            'fill-opacity="0.5" stroke="#57606a" stroke-dasharray="5 3"/>',
            "did not end",
        )
    )
    return (
        '<ul class="legend">'
        + "".join(
            f'<li><svg width="22" height="10" viewBox="0 0 22 10" aria-hidden="true">'
            f"{swatch}</svg>{_h(text)}</li>"
            for swatch, text in items
        )
        + "</ul>"
    )


# --- HTML: the trend over past drills ----------------------------------------

_LEFT = 90  # the trend's column of value labels
_PANEL = 130  # the height of each of the RTO and RPO panels
_VERDICT_COLOUR = {"pass": "#0969da", "fail": "#cf222e", "aborted": "#9a6700"}
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _html_trend(report: EvidenceReport) -> str:
    if report.runbook != "restore-drill":
        return ""
    heading = "RTO and RPO over past drills"
    points = report.trend
    if len(points) < 2:
        known = "none" if not points else "only this one"
        return _section(
            "trend",
            heading,
            _note(
                "No trend yet: a trend needs two drills of this environment, and "
                f"the report knows of {known}."
            ),
        )
    rto, rto_off = _trend_panel(report, "RTO", 30)
    rpo, rpo_off = _trend_panel(report, "RPO", 30 + _PANEL + 60)
    bottom = 30 + 2 * _PANEL + 60
    svg = (
        f'<svg class="trend" viewBox="0 0 {_WIDTH} {bottom + 26}" role="img" '
        f'aria-label="RTO and RPO of {len(points)} drills">'
        + rto
        + rpo
        + _drill_days(points, bottom + 18)
        + "</svg>"
    )
    notes = (
        f"Each mark is one drill of {report.environment}, oldest on the left; "
        "the ringed one is this drill. Blue: the drill passed, red: it failed, "
        "amber: it was aborted; a cross on the axis: not measured. Dashed: "
        "each tier's objective."
    )
    off = rto_off + rpo_off
    if off:
        notes += " Above the chart's scale: " + "; ".join(off) + "."
    return _section("trend", heading, svg + _note(notes))


def _trend_panel(
    report: EvidenceReport, measure: Measure, top: int
) -> tuple[str, list[str]]:
    """One measure's panel, and the objectives too large for its scale."""
    values = [
        p.rto_seconds if measure == "RTO" else p.rpo_seconds for p in report.trend
    ]
    targets = sorted(
        {
            (o.objective_seconds, o.tier)
            for o in report.objectives
            if o.measure == measure
        }
    )
    known = [v for v in values if v is not None]
    reach = max(known + [targets[0][0] if targets else 0.0]) * 1.1 or 60.0
    step = _tick_step(reach, 4)
    scale = step * math.ceil(reach / step)

    def y(value: float) -> float:
        return top + _PANEL - _PANEL * value / scale

    grid = "".join(
        f'<line x1="{_LEFT}" y1="{y(v):.1f}" x2="{_WIDTH - 10}" y2="{y(v):.1f}" '
        f'stroke="#d0d7de"/><text x="{_LEFT - 8}" y="{y(v) + 4:.1f}" '
        f'text-anchor="end">{brief(v)}</text>'
        for v in _ticks(scale, step)
    )
    lines = "".join(
        _objective_line(tier, measure, seconds, y(seconds))
        for seconds, tier in targets
        if seconds <= scale
    )
    off = [
        f"tier {tier}'s {measure} objective of {brief(seconds)}"
        for seconds, tier in targets
        if seconds > scale
    ]
    heading = f'<text x="0" y="{top - 16}" class="panel">{measure}</text>'
    series = _series(report, measure, values, y)
    return f'<g class="panel">{heading}{grid}{lines}{series}</g>', off


def _objective_line(tier: str, measure: str, seconds: float, y: float) -> str:
    label = f"{tier} {brief(seconds)}"
    return (
        f'<g class="objective-line"><title>{_h(f"tier {tier}: {measure} objective")}'
        f" {_h(brief(seconds))}</title>"
        f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - 10}" y2="{y:.1f}" '
        'stroke="#bc4c00" stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{_WIDTH - 12}" y="{y - 4:.1f}" text-anchor="end" '
        f'fill="#bc4c00">{_h(label)}</text></g>'
    )


def _series(
    report: EvidenceReport,
    measure: str,
    values: list[float | None],
    y: Callable[[float], float],
) -> str:
    """The drills' marks of one measure, a line joining those measured in a row."""
    xs = [_slot(index, len(values)) for index in range(len(values))]
    runs: list[list[str]] = [[]]
    for x, value in zip(xs, values, strict=True):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{x:.1f},{y(value):.1f}")
    joins = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="#57606a" '
        'stroke-width="1.5"/>'
        for run in runs
        if len(run) > 1
    )
    marks = "".join(
        _mark(
            point,
            f"{measure} {'not measured' if value is None else brief(value)}",
            (x, y(value or 0.0)),
            value is None,
            point.run_id == report.run_id,
        )
        for point, value, x in zip(report.trend, values, xs, strict=True)
    )
    return f'<g class="series" data-measure="{measure}">{joins}{marks}</g>'


def _mark(
    point: TrendPoint,
    reading: str,
    at: tuple[float, float],
    unknown: bool,
    this: bool,
) -> str:
    """One drill's mark: a dot, or a cross on the axis when not measured."""
    x, y = at
    colour = _VERDICT_COLOUR.get(point.verdict, "#57606a")
    label = (
        f"{'this drill' if this else 'drill'} of {moment(point.started_at)} "
        f"(run {point.run_id}): {reading}, {point.verdict}"
    )
    if unknown:
        shape = (
            f'<path d="M{x - 4:.1f},{y - 4:.1f}l8,8m0,-8l-8,8" stroke="#57606a" '
            'stroke-width="2"/>'
        )
    else:
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'
    if this:
        shape += (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="8" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
    return (
        f'<g class="{"point unknown" if unknown else "point"}" '
        f'data-verdict="{_h(point.verdict)}"><title>{_h(label)}</title>{shape}</g>'
    )


def _slot(index: int, count: int) -> float:
    """The middle of a drill's slot across the trend."""
    return _LEFT + (_WIDTH - 10 - _LEFT) * (index + 0.5) / count


def _drill_days(points: list[TrendPoint], y: int) -> str:
    """The day of each drill under the chart, as many as fit, the last always."""
    every = math.ceil(len(points) / 12)
    labels = "".join(
        f'<text x="{_slot(i, len(points)):.1f}" y="{y}" text-anchor="middle">'
        f"{_day(point.started_at)}</text>"
        for i, point in enumerate(points)
        if (len(points) - 1 - i) % every == 0
    )
    return f'<g class="axis">{labels}</g>'


def _day(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value.day} {_MONTHS[value.month - 1]}"


# --- chart scales ------------------------------------------------------------

# Spacings between ticks that a reader counts in, in seconds.
_TICK_STEPS = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200, 86400,
)  # fmt: skip


def _tick_step(span: float, most: int) -> float:
    """The smallest reader's spacing that puts at most ``most`` ticks on ``span``."""
    for step in _TICK_STEPS:
        if span / step <= most:
            return step
    return 86400.0 * math.ceil(span / most / 86400)


def _ticks(span: float, step: float) -> list[float]:
    # A hair of slack, so that float rounding keeps a tick that ends the span.
    return [i * step for i in range(int(span / step + 1e-9) + 1)]


def brief(seconds: float) -> str:
    """A span in few characters, for charts: 4.2 s, 42 s, 25 min, 1 h 30 min."""
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" + (f" {rest:02d} s" if rest else "")
    hours, minutes = divmod(round(whole / 60), 60)
    return f"{hours} h" + (f" {minutes:02d} min" if minutes else "")


# --- Markdown ----------------------------------------------------------------


def render_markdown(report: EvidenceReport) -> str:
    """The report as Markdown, readable as plain text too."""
    parts = [
        f"# {_md(title(report))}: {report.verdict.replace('_', ' ').upper()}",
        _md_header(report),
        "## Steps",
        _md_steps(report),
        "## Approvals",
        _md_approvals(report),
        "## Business validation",
        _md_validation(report),
        "## Recovery objectives",
        _md_objectives(report),
    ]
    if report.facts:
        parts += [
            "## Facts",
            _md_table(["what", "value"], [[f.label, f.value] for f in report.facts]),
        ]
    parts += [
        "## Immutability of the stored copy",
        _md(report.immutability),
        f"Evidence schema {_md(report.schema_version)}. The SHA-256 of this "
        "report's JSON form is recorded in the run's Temporal history; "
        f"`odoo-dr report {_md(report.workflow_id)}` fetches the stored copy and "
        "checks it.",
    ]
    return "\n\n".join(parts) + "\n"


def _md(value: object) -> str:
    """Text safe in Markdown and in a table cell: no HTML, no cell breaks."""
    text = escape(str(value), quote=False)
    return " ".join(text.replace("|", "\\|").split())


def _md_table(headings: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(_md(h) for h in headings) + " |",
        "|" + "---|" * len(headings),
    ]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_header(report: EvidenceReport) -> str:
    rows = [
        ["started by", report.requested_by],
        ["reason", report.reason],
        ["started", moment(report.started_at)],
        ["ended", moment(report.ended_at)],
        ["took", _run_span(report)],
        ["workflow id", report.workflow_id],
        ["run id", report.run_id],
        ["Temporal UI", report.ui_url or "no UI address was known"],
    ]
    if report.failure:
        rows.append(["failure", report.failure])
    return _md_table(["run", ""], rows)


def _md_steps(report: EvidenceReport) -> str:
    if not report.steps:
        return "No step ran."
    rows = [
        [
            step.name,
            moment(step.started_at),
            moment(step.ended_at) if step.ended_at else "-",
            _took(step),
            step.outcome,
            step.detail,
        ]
        for step in report.steps
    ]
    return _md_table(["step", "started", "ended", "took", "outcome", "detail"], rows)


def _md_approvals(report: EvidenceReport) -> str:
    if not report.approvals:
        return "No gate opened in this run."
    blocks = []
    for gate in report.approvals:
        lines = [
            f"**{_md(gate.gate)}**: {_md(gate.outcome.replace('_', ' '))}. "
            f"{_md(gate.what)} (opened {moment(gate.opened_at)})"
        ]
        for vote in gate.votes:
            signed = vote.verified_signer or "not signed"
            said = f': "{vote.comment}"' if vote.comment else ""
            lines.append(
                f"- {_md(vote.decision)} by {_md(vote.person)} as {_md(vote.role)} "
                f"via {_md(vote.channel)} at {moment(vote.at)}, signed by "
                f"{_md(signed)}{_md(said)}"
            )
        lines += [f"- did not count: {_md(line)}" for line in gate.refused]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _md_validation(report: EvidenceReport) -> str:
    if report.validation_verdict is None:
        return "Business validation did not run."
    rows = [
        [
            check.name,
            check.area,
            check.verdict + ("" if check.critical else " (not critical)"),
            check.summary,
            figures(check.found),
            figures(check.expected),
            check.hint,
        ]
        for check in report.validation
    ]
    verdict = (
        f"Overall verdict: {_md(report.validation_verdict)}, on "
        f"{_md(report.validation_target or 'the target')}."
    )
    table = _md_table(
        ["check", "area", "verdict", "summary", "found", "expected", "hint"], rows
    )
    return f"{verdict}\n\n{table}"


def _md_objectives(report: EvidenceReport) -> str:
    if report.objectives:
        text = _md_table(
            ["tier", "areas", "objective", "target", "measured", "verdict"],
            [
                [
                    row.tier,
                    ", ".join(row.areas) or "-",
                    row.measure,
                    duration(row.objective_seconds),
                    duration(row.measured_seconds),
                    row.verdict,
                ]
                for row in report.objectives
            ],
        )
    else:
        text = "The inventory sets no recovery tier for this environment."
    how = [
        f"- {m.measure} {duration(m.seconds)}: {_md(m.basis)}"
        for m in report.measurements
    ]
    return text + ("\n\nWhat was measured:\n\n" + "\n".join(how) if how else "")
