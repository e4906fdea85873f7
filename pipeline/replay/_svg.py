"""Tiny inline-SVG charts for the replay report: no JavaScript, no external files.

Every text that reaches the SVG goes through `html.escape`, since stage names, error kinds and
conversation ids come from the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 720
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 20, 40
PALETTE = ("#3867d6", "#eb3b5a", "#20bf6b", "#f7b731", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584")


def _frame(body: str, height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" font-family="sans-serif" font-size="11">{body}</svg>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10
    return float(step * (int(value / step) + 1))


def _axes(y_max: float, y_label: str, x_label: str) -> str:
    plot_h = HEIGHT - _TOP - _BOTTOM
    parts = [f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{HEIGHT - _BOTTOM}" stroke="#999"/>',
             f'<line x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH - _RIGHT}" y2="{HEIGHT - _BOTTOM}" stroke="#999"/>']
    for i in range(5):
        y = HEIGHT - _BOTTOM - plot_h * i / 4
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{y_max * i / 4:g}</text>')
        parts.append(f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
    parts.append(f'<text x="14" y="{_TOP + plot_h / 2}" transform="rotate(-90 14 {_TOP + plot_h / 2})" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    parts.append(f'<text x="{(WIDTH + _LEFT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>')
    return "".join(parts)


def histogram(edges: Sequence[float], counts: Sequence[int], x_label: str) -> str:
    """Bars of `counts` over bins `edges` (len(counts) + 1)."""
    if not counts:
        return "<p><em>no data</em></p>"
    y_max = _nice_max(max(counts))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    bar_w = plot_w / len(counts)
    parts = [_axes(y_max, "turns", x_label)]
    for i, count in enumerate(counts):
        h = plot_h * count / y_max
        parts.append(f'<rect x="{_LEFT + i * bar_w + 1:.1f}" y="{HEIGHT - _BOTTOM - h:.1f}" width="{bar_w - 2:.1f}" '
                     f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{edges[i]:g}-{edges[i + 1]:g}: {count}</title></rect>')
    for i in range(0, len(edges), max(1, len(edges) // 5)):
        parts.append(f'<text x="{_LEFT + i * bar_w:.1f}" y="{HEIGHT - _BOTTOM + 14}" text-anchor="middle">{edges[i]:g}</text>')
    return _frame("".join(parts))


def horizontal_bars(rows: Sequence[tuple[str, Mapping[str, float]]], series: Sequence[str], unit: str) -> str:
    """One group of bars per row label; one bar per series name (e.g. p50, p90) in each group."""
    if not rows:
        return "<p><em>no data</em></p>"
    values = [v for _, row in rows for v in row.values()]
    top = _nice_max(max(values, default=0.0))
    label_w, bar_h = 130, 12
    group_h = bar_h * len(series) + 8
    height = _TOP + group_h * len(rows) + 30
    plot_w = WIDTH - label_w - _RIGHT - 60
    parts = []
    for r, (label, row) in enumerate(rows):
        y0 = _TOP + r * group_h
        parts.append(f'<text x="{label_w - 6}" y="{y0 + group_h / 2:.1f}" text-anchor="end">{escape(label)}</text>')
        for s, name in enumerate(series):
            value = row.get(name, 0.0)
            w = plot_w * value / top
            y = y0 + s * bar_h
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                         f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: {value:g} {escape(unit)}</title></rect>')
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}">{value:g}</text>')
    legend_y = height - 10
    for s, name in enumerate(series):
        x = label_w + s * 90
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{legend_y}">{escape(name)} ({escape(unit)})</text>')
    return _frame("".join(parts), height)


def lines(xs: Sequence[float], series: Mapping[str, Sequence[float | None]], x_label: str, y_label: str) -> str:
    """One polyline per series over the shared xs; None values are gaps."""
    present = [v for values in series.values() for v in values if v is not None]
    if not xs or not present:
        return "<p><em>no data</em></p>"
    y_max = _nice_max(max(present))
    x_max = max(xs) or 1.0
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    parts = [_axes(y_max, y_label, x_label)]
    for i in range(5):
        x = _LEFT + plot_w * i / 4
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - _BOTTOM + 14}" text-anchor="middle">{x_max * i / 4:.0f}</text>')
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        points = [f"{_LEFT + plot_w * x / x_max:.1f},{HEIGHT - _BOTTOM - plot_h * v / y_max:.1f}"
                  for x, v in zip(xs, values) if v is not None]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(points)}"/>')
        parts.append(f'<rect x="{_LEFT + 10 + s * 100}" y="{_TOP}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{_LEFT + 24 + s * 100}" y="{_TOP + 9}">{escape(name)}</text>')
    return _frame("".join(parts))
