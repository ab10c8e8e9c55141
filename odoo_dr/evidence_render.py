"""The evidence report as pages people read: HTML and Markdown.

The HTML page stands alone: its style is inline, it loads nothing (its
content security policy forbids every fetch), runs no script, and prints on
paper with the link to the run spelled out. Every value from the report is
escaped, since reasons, comments and check summaries are typed by people or
read from databases. The only address in the page is the run's Temporal UI
link.
"""

from __future__ import annotations

from html import escape

from odoo_dr.evidence import (
    EvidenceCheck,
    EvidenceGate,
    EvidenceReport,
    EvidenceStep,
    Objective,
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

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 2rem auto;
  max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem;
  margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; white-space: nowrap; }
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
p.note, footer { color: #57606a; }
footer { margin-top: 2rem; font-size: .85rem; }
@media print {
  body { font-size: 10pt; margin: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
  a[href]::after { content: " (" attr(href) ")"; font-size: 8pt; }
  tr, dl.run, p { break-inside: avoid; }
  h2 { break-after: avoid; }
  .verdict, th { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
@page { margin: 15mm; }
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
        _html_steps(report),
        _html_approvals(report),
        _html_validation(report),
        _html_objectives(report),
        _html_facts(report),
        "<section><h2>Immutability of the stored copy</h2>"
        f"<p>{_h(report.immutability)}</p></section>",
        "<footer>Evidence schema "
        f"{_h(report.schema_version)}. The SHA-256 of this report's JSON form is "
        "recorded in the run's Temporal history; <code>odoo-dr report "
        f"{_h(report.workflow_id)}</code> fetches the stored copy and checks "
        "it.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


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


def _html_table(headings: list[str], rows: list[list[str]]) -> str:
    """A table of cells already escaped."""
    head = "".join(f"<th>{_h(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{_h(value)}</td>"


def _html_steps(report: EvidenceReport) -> str:
    if not report.steps:
        return '<section><h2>Steps</h2><p class="note">No step ran.</p></section>'
    rows = [
        [
            _td(step.name),
            _td(moment(step.started_at)),
            _td(moment(step.ended_at) if step.ended_at else "-"),
            _td(_took(step), "num"),
            f"<td>{_badge(step.outcome)}</td>",
            _td(step.detail),
        ]
        for step in report.steps
    ]
    headings = ["step", "started", "ended", "took", "outcome", "detail"]
    return f"<section><h2>Steps</h2>{_html_table(headings, rows)}</section>"


def _html_approvals(report: EvidenceReport) -> str:
    if not report.approvals:
        return (
            '<section><h2>Approvals</h2><p class="note">No gate opened in this '
            "run.</p></section>"
        )
    return (
        "<section><h2>Approvals</h2>"
        + "".join(_html_gate(gate) for gate in report.approvals)
        + "</section>"
    )


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
        )
        if rows
        else '<p class="note">No vote counted.</p>'
    )
    refused = "".join(f"<li>{_h(line)}</li>" for line in gate.refused)
    return (
        f"<h3>{_h(gate.gate)}: {_badge(gate.outcome)}</h3>"
        f"<p>{_h(gate.what)} (opened {_h(moment(gate.opened_at))}{_h(closed)})</p>"
        + table
        + (f"<p>Votes that did not count:</p><ul>{refused}</ul>" if refused else "")
    )


def _html_validation(report: EvidenceReport) -> str:
    if report.validation_verdict is None:
        return (
            '<section><h2>Business validation</h2><p class="note">Business '
            "validation did not run.</p></section>"
        )
    rows = [_html_check(check) for check in report.validation]
    return (
        "<section><h2>Business validation</h2>"
        f"<p>Overall verdict: {_badge(report.validation_verdict)}, on "
        f"{_h(report.validation_target or 'the target')}.</p>"
        + _html_table(
            ["check", "area", "verdict", "summary", "found", "expected", "hint"], rows
        )
        + "</section>"
    )


def _html_check(check: EvidenceCheck) -> list[str]:
    verdict = _badge(check.verdict)
    if not check.critical:
        verdict += " (not critical)"
    return [
        _td(check.name),
        _td(check.area),
        f"<td>{verdict}</td>",
        _td(check.summary),
        _td(figures(check.found)),
        _td(figures(check.expected)),
        _td(check.hint),
    ]


def _html_objectives(report: EvidenceReport) -> str:
    if report.objectives:
        table = _html_table(
            ["tier", "areas", "objective", "target", "measured", "verdict"],
            [_html_objective(row) for row in report.objectives],
        )
    else:
        table = (
            '<p class="note">The inventory sets no recovery tier for this '
            "environment.</p>"
        )
    how = "".join(
        f"<li><strong>{_h(m.measure)}</strong> {_h(duration(m.seconds))}: "
        f"{_h(m.basis)}</li>"
        for m in report.measurements
    )
    return (
        f"<section><h2>Recovery objectives</h2>{table}"
        + (f"<p>What was measured:</p><ul>{how}</ul>" if how else "")
        + "</section>"
    )


def _html_objective(row: Objective) -> list[str]:
    return [
        _td(row.tier),
        _td(", ".join(row.areas) or "-"),
        _td(row.measure),
        _td(duration(row.objective_seconds), "num"),
        _td(duration(row.measured_seconds), "num"),
        f"<td>{_badge(row.verdict)}</td>",
    ]


def _html_facts(report: EvidenceReport) -> str:
    if not report.facts:
        return ""
    rows = [[_td(fact.label), _td(fact.value)] for fact in report.facts]
    return f"<section><h2>Facts</h2>{_html_table(['what', 'value'], rows)}</section>"


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
