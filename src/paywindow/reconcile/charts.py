"""Charts for the finance report as inline SVG strings: no JavaScript, no fonts or files fetched.

Text is escaped; sizes are in CSS pixels so WeasyPrint and browsers draw them alike.
"""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart", "column_chart"]

_PALETTE = ("#2f5d8a", "#d08c2f", "#4f8a4f", "#8a3f6e", "#5b5b5b", "#3f8a86")
_FONT = 'font-family="DejaVu Sans, sans-serif"'


def column_chart(
    days: list[str],
    series: dict[str, list[float]],
    *,
    width: int = 640,
    height: int = 220,
    unit: str = "",
) -> str:
    """Grouped columns: one group per day, one column per series (e.g. per currency)."""
    left, bottom, top = 56, 36, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((v for values in series.values() for v in values), default=0) or 1
    parts = [_svg_open(width, height)]
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        label = _short(peak * k / 4)
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end" {_FONT}>'
            f"{escape(label)}</text>"
        )
    group = plot_w / max(len(days), 1)
    bar = max(group * 0.8 / max(len(series), 1), 1)
    for i, day in enumerate(days):
        x0 = left + i * group + group * 0.1
        for j, values in enumerate(series.values()):
            h = plot_h * values[i] / peak
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{_PALETTE[j % len(_PALETTE)]}"/>'
            )
        if len(days) <= 16 or i % max(len(days) // 12, 1) == 0:
            parts.append(
                f'<text x="{x0 + group * 0.4:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle" {_FONT}>{escape(day[5:])}</text>'
            )
    for j, name in enumerate(series):
        x = left + j * 90
        parts.append(
            f'<rect x="{x}" y="{height - 12}" width="9" height="9" '
            f'fill="{_PALETTE[j % len(_PALETTE)]}"/>'
            f'<text x="{x + 13}" y="{height - 4}" font-size="9" {_FONT}>'
            f"{escape(name)}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(counts: dict[str, int], *, width: int = 640, row: int = 18) -> str:
    """Horizontal bars with their counts, one per label (e.g. findings by kind)."""
    left = 190
    height = max(len(counts), 1) * row + 8
    peak = max(counts.values(), default=0) or 1
    parts = [_svg_open(width, height)]
    if not counts:
        parts.append(f'<text x="4" y="14" font-size="11" {_FONT}>No findings.</text>')
    for i, (label, count) in enumerate(counts.items()):
        y = 4 + i * row
        w = (width - left - 40) * count / peak
        parts.append(
            f'<text x="{left - 6}" y="{y + 12}" font-size="10" text-anchor="end" {_FONT}>'
            f"{escape(label)}</text>"
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{_PALETTE[0]}"/>'
            f'<text x="{left + w + 4:.1f}" y="{y + 12}" font-size="10" {_FONT}>{count}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    )


def _short(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}"
