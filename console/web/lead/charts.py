"""Charts as inline SVG, drawn on the server.

Why not a JavaScript charting library: the reports are static figures for a period, so SVG drawn
here shows without any script (the page works with JavaScript off, prints, and screenshots the same
every time), needs no bundle, fits the Content-Security-Policy (presentation attributes, no inline
style or script), and the same numbers feed the table under each chart and the CSV. Each chart is an
`<svg role="img">` with a title and description, and every bar or point carries a `<title>` that
browsers show on hover. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
    "#999999",
)
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 64
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def _fmt(unit: str) -> Callable[[float], str]:
    def rate(v: float) -> str:
        return f"{v * 100:.0f}%"

    def seconds(v: float) -> str:
        return f"{v / 60:.1f} min" if v >= 120 else f"{v:.0f} s"

    def number(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"

    return {"rate": rate, "seconds": seconds}.get(unit, number)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))


def _top(peak: float, unit: str) -> float:
    if unit == "seconds" and peak > 120:
        # Whole minutes on every one of the four gridlines.
        return float(math.ceil(peak / 240) * 240)
    return _nice_max(peak)


def _frame(
    title: str, description: str, top: float, unit: str, categories: Sequence[str]
) -> tuple[list[str], str, Callable[[float], float], float]:
    uid = f"chart{next(_ids)}"
    fmt = _fmt(unit)
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description)}</desc>',
    ]

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    for i in range(5):
        value = top * i / 4
        ypos = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ypos:.1f}" y2="{ypos:.1f}" '
            f'stroke="#d0d4da" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{ypos + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#444">{escape(fmt(value))}</text>'
        )
    band = (WIDTH - LEFT - RIGHT) / max(1, len(categories))
    every = max(1, math.ceil(len(categories) / 16))
    rotate = len(categories) > 8
    for i, name in enumerate(categories):
        if i % every:
            continue
        xpos = LEFT + band * (i + 0.5)
        ypos = HEIGHT - BOTTOM + 16
        turn = f' transform="rotate(-40 {xpos:.1f} {ypos:.1f})"' if rotate else ""
        anchor = "end" if rotate else "middle"
        parts.append(
            f'<text x="{xpos:.1f}" y="{ypos:.1f}" text-anchor="{anchor}" font-size="12" '
            f'fill="#444"{turn}>{escape(name)}</text>'
        )
    return parts, uid, y, band


def _legend(parts: list[str], series: Sequence[Series]) -> None:
    if len(series) < 2:
        return
    x = LEFT
    for i, item in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        label = item.name if len(item.name) <= 22 else item.name[:21] + "…"
        parts.append(f'<rect x="{x}" y="2" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="11" font-size="11" fill="#222">{escape(label)}</text>')
        x += 26 + 7 * len(label)
        if x > WIDTH - 120:
            break


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    stacked: bool = True,
    unit: str = "count",
) -> Markup:
    """Bars per category: stacked (parts of a whole) or side by side."""
    fmt = _fmt(unit)
    if stacked:
        peak = max(
            (sum(s.values[i] or 0 for s in series) for i in range(len(categories))), default=0
        )
    else:
        peak = max((v or 0 for s in series for v in s.values), default=0)
    top = _top(float(peak), unit)
    names = ", ".join(s.name for s in series)
    parts, _uid, y, band = _frame(
        title, f"Bar chart of {names} per {len(categories)} periods.", top, unit, categories
    )
    _legend(parts, series)
    inner = band * 0.7
    for i, category in enumerate(categories):
        x0 = LEFT + band * i + (band - inner) / 2
        base = 0.0
        for j, item in enumerate(series):
            value = item.values[i] or 0
            color = PALETTE[j % len(PALETTE)]
            if stacked:
                y_top, y_bottom = y(base + value), y(base)
                x, width = x0, inner
                base += value
            else:
                width = inner / max(1, len(series))
                x = x0 + width * j
                y_top, y_bottom = y(value), y(0)
            height = max(0.0, y_bottom - y_top)
            if height <= 0:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{max(1.0, width - 1):.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>'
                f"{escape(category)} · {escape(item.name)}: {escape(fmt(value))}"
                "</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def line_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "rate",
    target: float | None = None,
) -> Markup:
    """Lines per series over the categories; gaps where a value is missing; a dashed target."""
    fmt = _fmt(unit)
    peak = max([v for s in series for v in s.values if v is not None] + [target or 0, 0])
    top = 1.0 if unit == "rate" and peak <= 1 else _top(float(peak), unit)
    names = ", ".join(s.name for s in series)
    parts, _uid, y, band = _frame(
        title, f"Line chart of {names} per {len(categories)} periods.", top, unit, categories
    )
    _legend(parts, series)
    if target is not None:
        ypos = y(target)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ypos:.1f}" y2="{ypos:.1f}" '
            f'stroke="#b42318" stroke-width="2" stroke-dasharray="6 4">'
            f"<title>Target {escape(fmt(target))}</title></line>"
        )
    for j, item in enumerate(series):
        color = PALETTE[j % len(PALETTE)]
        path: list[str] = []
        for i, value in enumerate(item.values):
            if value is None:
                if path:
                    parts.append(_polyline(path, color))
                path = []
                continue
            xpos = LEFT + band * (i + 0.5)
            ypos = y(value)
            path.append(f"{xpos:.1f},{ypos:.1f}")
            parts.append(
                f'<circle cx="{xpos:.1f}" cy="{ypos:.1f}" r="3.5" fill="{color}"><title>'
                f"{escape(categories[i])} · {escape(item.name)}: {escape(fmt(value))}"
                "</title></circle>"
            )
        if path:
            parts.append(_polyline(path, color))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _polyline(points: list[str], color: str) -> str:
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="2.5"/>'
    )
