"""Turns a report into the page's sections: a chart, then a table of the same numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from console.domain import metrics
from console.domain.metrics import Totals
from console.domain.reports import Report
from console.web.lead.charts import Series, bar_chart, line_chart

TOP_VALUES = 8


@dataclass
class Section:
    key: str
    title: str
    chart: Markup
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    foot: list[str] = field(default_factory=list)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 60:.1f} min" if value >= 120 else f"{value:.0f} s"


def number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}" if value != int(value) else f"{int(value):,}"


def sections(report: Report, labels: Callable[[str], str], sl_target: float) -> list[Section]:
    if report.query.is_record_dimension:
        return _record_sections(report, labels)
    return _service_sections(report, labels, sl_target)


def _service_sections(
    report: Report, labels: Callable[[str], str], sl_target: float
) -> list[Section]:
    periods = report.periods
    split = bool(report.query.by)
    groups = report.groups if split else [""]
    names = [labels(g) for g in groups] if split else ["All"]

    def per_group(fn: Callable[[Totals], float | None]) -> list[Series]:
        return [
            Series(name, [fn(report.with_staffed(p, g)) for p in periods])
            for g, name in zip(groups, names, strict=True)
        ]

    out: list[Section] = []
    if split:
        chart = bar_chart(
            title="Contacts offered",
            categories=periods,
            series=[
                Series(n, [float(report.cell(p, g).offered) for p in periods])
                for g, n in zip(groups, names, strict=True)
            ],
        )
        rows = [[p, *[str(report.cell(p, g).offered) for g in groups]] for p in periods]
        foot = ["Total", *[str(report.group_total(g).offered) for g in groups]]
        out.append(
            Section("offered", "Contacts offered", chart, ["Period", *names], rows, foot=foot)
        )
    else:

        def part(name: str) -> Callable[[Totals], float]:
            return lambda t: float(getattr(t, name))

        series = [
            Series("Answered", [part("answered")(report.cell(p)) for p in periods]),
            Series("Abandoned", [part("abandoned")(report.cell(p)) for p in periods]),
            Series("Short abandons", [part("short_abandoned")(report.cell(p)) for p in periods]),
            Series(
                "Not answered, not abandoned",
                [
                    float(t.offered - t.answered - t.abandoned - t.short_abandoned)
                    for t in (report.cell(p) for p in periods)
                ],
            ),
        ]
        chart = bar_chart(title="Contacts offered", categories=periods, series=series)
        headers = ["Period", "Offered", "Answered", "Abandoned", "Short abandons", "Handled"]

        def line(name: str, t: Totals) -> list[str]:
            return [
                name,
                str(t.offered),
                str(t.answered),
                str(t.abandoned),
                str(t.short_abandoned),
                str(t.handled),
            ]

        rows = [line(p, report.cell(p)) for p in periods]
        out.append(
            Section(
                "offered",
                "Contacts offered",
                chart,
                headers,
                rows,
                note="A transferred contact counts once, on its first leg.",
                foot=line("Total", report.grand_total()),
            )
        )

    sl_series = per_group(metrics.service_level)
    out.append(
        Section(
            "service_level",
            "Service level",
            line_chart(
                title="Service level",
                categories=periods,
                series=sl_series,
                unit="rate",
                target=sl_target,
            ),
            ["Period", *names],
            [[p, *[percent(s.values[i]) for s in sl_series]] for i, p in enumerate(periods)],
            note=f"Share answered within the channel's T; target {sl_target * 100:.0f}%. "
            "Short abandons are left out.",
            foot=[
                "Total",
                *[percent(metrics.service_level(report.group_total(g))) for g in groups],
            ],
        )
    )

    if split:
        aht = per_group(metrics.average_handle_time)
        asa = per_group(metrics.average_speed_of_answer)
        chart = line_chart(
            title="Average handle time", categories=periods, series=aht, unit="seconds"
        )
        headers = ["Period", *[f"{n}: ASA" for n in names], *[f"{n}: AHT" for n in names]]
        rows = [
            [p, *[seconds(s.values[i]) for s in asa], *[seconds(s.values[i]) for s in aht]]
            for i, p in enumerate(periods)
        ]
    else:
        asa_values = [metrics.average_speed_of_answer(report.cell(p)) for p in periods]
        aht_values = [metrics.average_handle_time(report.cell(p)) for p in periods]
        chart = bar_chart(
            title="Speed of answer and handle time",
            categories=periods,
            series=[
                Series("Average speed of answer", asa_values),
                Series("Average handle time", aht_values),
            ],
            stacked=False,
            unit="seconds",
        )
        headers = ["Period", "Average speed of answer", "Average handle time"]
        rows = [
            [p, seconds(a), seconds(h)]
            for p, a, h in zip(periods, asa_values, aht_values, strict=True)
        ]
    out.append(Section("times", "Speed of answer and handle time", chart, headers, rows))

    occupancy = per_group(metrics.occupancy)
    per_hour = per_group(metrics.contacts_per_operator_hour)
    out.append(
        Section(
            "occupancy",
            "Occupancy",
            line_chart(title="Occupancy", categories=periods, series=occupancy, unit="rate"),
            [
                "Period",
                *[f"{n}: occupancy" for n in names],
                *[f"{n}: contacts per operator-hour" for n in names],
            ],
            [
                [
                    p,
                    *[percent(s.values[i]) for s in occupancy],
                    *[number(s.values[i]) for s in per_hour],
                ]
                for i, p in enumerate(periods)
            ],
            note="Time on contacts (talk and wrap-up) ÷ the team's staffed time. Concurrent chats "
            "each count in full.",
        )
    )

    received = [float(report.cell(p).referrals_received) for p in periods]
    reached = [float(report.cell(p).outreached) for p in periods]
    if split:
        received = [float(report.period_total(p).referrals_received) for p in periods]
        reached = [float(report.period_total(p).outreached) for p in periods]
    out.append(
        Section(
            "referrals",
            "Referrals received and first outreach",
            bar_chart(
                title="Referrals received and first outreach",
                categories=periods,
                series=[Series("Referrals received", received), Series("Reached out", reached)],
                stacked=False,
            ),
            [
                "Period",
                "Referrals received",
                "Reached out",
                "Time to first outreach",
                "Referrals made",
            ],
            [
                [
                    p,
                    str(report.period_total(p).referrals_received),
                    str(report.period_total(p).outreached),
                    seconds(metrics.referral_to_first_outreach(report.period_total(p))),
                    str(report.period_total(p).referrals_made),
                ]
                for p in periods
            ],
            note="Police and partner referrals: from reaching the line to an operator taking the "
            "callback.",
        )
    )
    return out


def _record_sections(report: Report, labels: Callable[[str], str]) -> list[Section]:
    periods = report.periods
    by = str(report.query.by)
    groups = report.groups
    top = groups[:TOP_VALUES]
    rest = groups[TOP_VALUES:]
    series = [Series(labels(g), [float(report.cell(p, g).records) for p in periods]) for g in top]
    if rest:
        series.append(
            Series(
                "Other",
                [float(sum(report.cell(p, g).records for g in rest)) for p in periods],
            )
        )
    title = f"Recorded contacts by {by}"
    by_period = Section(
        "by_period",
        title,
        bar_chart(title=title, categories=periods, series=series),
        ["Period", *[labels(g) for g in groups]],
        [[p, *[str(report.cell(p, g).records) for g in groups]] for p in periods],
        note="A contact with several values counts once under each.",
        foot=["Total", *[str(report.group_total(g).records) for g in groups]],
    )
    totals = [report.group_total(g).records for g in groups]
    whole = sum(totals) or 1
    overall = Section(
        "overall",
        f"All periods by {by}",
        bar_chart(
            title=f"All periods by {by}",
            categories=[labels(g) for g in groups],
            series=[Series("Recorded contacts", [float(t) for t in totals])],
        ),
        [by.capitalize(), "Recorded contacts", "Share of mentions"],
        [[labels(g), str(t), percent(t / whole)] for g, t in zip(groups, totals, strict=True)],
    )
    return [by_period, overall]


def chart_labels(
    by: str | None, languages: dict[str, str], taxonomy: Any | None
) -> Callable[[str], str]:
    channel_names = {"voice": "Calls", "chat": "Chats", "callback": "Callbacks"}

    def label(code: str) -> str:
        if code == "none":
            return "Not recorded" if by not in ("queue",) else "No topic"
        if by == "channel":
            return channel_names.get(code, code)
        if by == "language":
            return languages.get(code, code)
        if by == "triage":
            return code.replace("_", " ").capitalize()
        if taxonomy is not None and by in ("victimisation", "needs"):
            return str(taxonomy.label(by, code))
        return code

    return label
