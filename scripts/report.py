"""The demo's page: `output/report.html`, three charts from the dbt marts, that works offline.

Budget burn per running project, this week's utilisation per person, and allocated against
available hours for the weeks ahead, drawn with Plotly (plotly.py, whose plotly.js is inlined
once in the page: no script, style or font comes from the internet, so the page opens by
double-click on a machine without a network; docs/design-notes.md says why Plotly). Under each
chart, a table of the very numbers it draws (the Chromium test reads both). The dbt docs
(`dbt docs generate --static`) sit beside it in `output/dbt-docs/`, linked from the page.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

if TYPE_CHECKING:
    from pathlib import Path

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"  # local fonts only
CONFIG = {"displayModeBar": False, "responsive": True}
STYLE = """
body { font-family: FONT; margin: 2rem auto; max-width: 1100px; color: #1f2933; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.5rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin-top: 0.5rem; }
th, td { padding: 0.15rem 0.6rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.chart { height: 420px; } .note { color: #52606d; font-size: 0.9rem; }
""".replace("FONT", FONT)


def num(value: object) -> float:
    """A number of the marts (DuckDB's DECIMAL comes as text through JSON); NULL as 0."""
    return 0.0 if value is None else float(str(value))


def percent(ratio: object) -> str:
    return "-" if ratio is None else f"{num(ratio) * 100:.1f}%"


def hours(minutes: object) -> str:
    return "-" if minutes is None else f"{num(minutes) / 60:.1f}"


def figure(traces: list[go.Bar], title: str, axis: str, *, horizontal: bool) -> go.Figure:
    fig = go.Figure(traces)
    fig.update_layout(
        title={"text": title},
        font={"family": FONT},
        barmode="group",
        template="plotly_white",
        margin={"l": 200 if horizontal else 60, "r": 30, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.15},
    )
    if horizontal:
        fig.update_xaxes(title_text=axis)
        fig.update_yaxes(autorange="reversed")
    else:
        fig.update_yaxes(title_text=axis)
    return fig


def data_table(chart: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return (
        f'<table class="chart-data" data-chart="{chart}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def burn_section(burn: list[dict[str, Any]]) -> tuple[go.Figure, str]:
    names = [row["project_name"] for row in burn]
    views = (
        ("budget_burn", "logged (burn)"),
        ("budget_burn_submitted", "submitted"),
        ("budget_burn_approved", "approved"),
    )
    traces = [
        go.Bar(
            name=label,
            y=names,
            x=[round(num(row[column]) * 100, 1) for row in burn],
            text=[percent(row[column]) for row in burn],
            textposition="outside",
            orientation="h",
        )
        for column, label in views
    ]
    fig = figure(traces, "Budget burn per running project", "% of budgeted hours", horizontal=True)
    table = data_table(
        "burn",
        ["project", "burn", "submitted", "approved", "hours", "budget h"],
        [
            [
                row["project_name"],
                percent(row["budget_burn"]),
                percent(row["budget_burn_submitted"]),
                percent(row["budget_burn_approved"]),
                f"{num(row['hours_logged']):.1f}",
                f"{num(row['budgeted_hours']):.1f}",
            ]
            for row in burn
        ],
    )
    return fig, table


def utilisation_section(people: list[dict[str, Any]]) -> tuple[go.Figure, str]:
    names = [row["person_name"] for row in people]
    traces = [
        go.Bar(
            name="utilisation",
            y=names,
            x=[round(num(row["utilisation"]) * 100, 1) for row in people],
            text=[percent(row["utilisation"]) for row in people],
            textposition="outside",
            orientation="h",
        )
    ]
    fig = figure(traces, "Utilisation this week", "% of available time logged", horizontal=True)
    table = data_table(
        "utilisation",
        ["person", "utilisation", "available h", "logged h"],
        [
            [
                row["person_name"],
                percent(row["utilisation"]),
                hours(row["available_minutes"]),
                hours(row["minutes_logged"]),
            ]
            for row in people
        ],
    )
    return fig, table


def ahead_section(ahead: list[dict[str, Any]]) -> tuple[go.Figure, str]:
    weeks = [row["week_start"][:10] for row in ahead]
    series = (
        ("available_minutes", "available"),
        ("hard_allocated_minutes", "allocated (hard)"),
        ("soft_allocated_minutes", "allocated (soft)"),
    )
    traces = [
        go.Bar(
            name=label,
            x=weeks,
            y=[round(num(row[column]) / 60, 1) for row in ahead],
            text=[hours(row[column]) for row in ahead],
            textposition="outside",
        )
        for column, label in series
    ]
    fig = figure(traces, "Allocated against available, the weeks ahead", "hours", horizontal=False)
    fig.update_xaxes(type="category")
    table = data_table(
        "ahead",
        ["week of", "available h", "hard h", "soft h"],
        [
            [
                row["week_start"][:10],
                hours(row["available_minutes"]),
                hours(row["hard_allocated_minutes"]),
                hours(row["soft_allocated_minutes"]),
            ]
            for row in ahead
        ],
    )
    return fig, table


def write(path: Path, data: dict[str, Any], *, today: str, docs: str | None) -> None:
    """The page at `path`: `data` holds the marts' rows (burn, people, ahead) as dicts."""
    sections = (
        (
            "burn",
            "Budget burn: the running projects (In progress)",
            (
                "Hours logged, submitted and approved against the budgeted hours "
                "(rocketlane__projects.budget_burn counts all logged time, as Rocketlane does)."
            ),
            burn_section(data["burn_chart"]),
        ),
        (
            "utilisation",
            f"Utilisation this week ({data['week']})",
            (
                "The delivery team (active team members and partners): minutes logged / available "
                "(capacity less time off; rocketlane__weekly_utilisation)."
            ),
            utilisation_section(data["people_chart"]),
        ),
        (
            "ahead",
            "The weeks ahead: allocated against available",
            (
                "Active people, this week and the next four; allocations on projects neither "
                "Completed nor Cancelled (rocketlane__weeks_ahead_allocations and "
                "rocketlane__weeks_ahead)."
            ),
            ahead_section(data["ahead"]),
        ),
    )
    parts = []
    for chart, heading, note, (fig, table) in sections:
        div = fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{chart}", config=CONFIG
        )
        parts.append(
            f'<section id="{chart}"><h2>{html.escape(heading)}</h2>'
            f'<p class="note">{html.escape(note)}</p>'
            f'<div class="chart">{div}</div>{table}</section>'
        )
    link = f'<p>The models behind these numbers: <a href="{docs}">dbt docs</a>.</p>' if docs else ""
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Rocketlane: budget, utilisation, weeks ahead</title>"
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Rocketlane, as of {html.escape(today)}</h1>{link}{''.join(parts)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
