"""Usage charts as server-rendered SVG: no JavaScript, no CDN, readable with the page offline.

Each bar carries a ``<title>`` (the browser shows it on hover) with the bucket's local date,
quantity and cost; the page also lists the same points in a table beside the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from energygrid import display
from usage.calendar import zone
from usage.selectors import Bucket

_WIDTH, _HEIGHT = 720, 160
_LEFT, _BOTTOM, _TOP = 90, 20, 8  # room for the value axis, the date labels and the top label


@dataclass(frozen=True)
class ChartPoint:
    slot: int  # position in the chart's window, so a day or month with no data is a gap
    label: str
    value: Decimal
    quantity: str
    cost: str


def chart_points(
    buckets: Sequence[Bucket],
    *,
    slot_of: Callable[[date], int],
    date_format: str,
    timezone_name: str,
    unit: str,
    currency: str,
) -> list[ChartPoint]:
    """``slot_of`` places a bucket by its first local date in the chart's window."""
    tz = zone(timezone_name)
    return [
        ChartPoint(
            slot=slot_of(bucket.start.astimezone(tz).date()),
            label=bucket.start.astimezone(tz).strftime(date_format),
            value=bucket.quantity,
            quantity=display.quantity(bucket.quantity, unit),
            cost=display.money(bucket.cost, currency),
        )
        for bucket in buckets
    ]


def usage_chart_svg(
    points: Sequence[ChartPoint], *, slots: int, unit: str, caption: str
) -> SafeString:
    """A bar per point in its slot of ``slots``, scaled to the largest; an empty chart says so."""
    plot_width, plot_height = _WIDTH - _LEFT, _HEIGHT - _BOTTOM - _TOP
    top = max((point.value for point in points), default=Decimal(0))
    if top <= 0:
        return format_html('<p class="usage-chart-empty">{}: no usage yet.</p>', caption)
    slot = plot_width / slots
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {} · {}</title></rect>',
        (
            (
                f"{_LEFT + point.slot * slot + slot * 0.1:.1f}",
                f"{_TOP + plot_height - height:.1f}",
                f"{slot * 0.8:.1f}",
                f"{height:.1f}",
                point.label,
                point.quantity,
                point.cost,
            )
            for point in points
            for height in [float(max(point.value, Decimal(0)) / top) * plot_height]
        ),
    )
    return format_html(
        '<svg class="usage-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{caption}</title>'
        '<line x1="{left}" y1="{base}" x2="{w}" y2="{base}" class="axis"/>'
        '<text x="{tick}" y="{label_top}" text-anchor="end">{top}</text>'
        '<text x="{tick}" y="{base}" text-anchor="end">0 {unit}</text>'
        "{bars}"
        '<text x="{left}" y="{h}" text-anchor="start">{first}</text>'
        '<text x="{w}" y="{h}" text-anchor="end">{last}</text></svg>',
        w=_WIDTH,
        h=_HEIGHT,
        caption=caption,
        left=_LEFT,
        base=_TOP + plot_height,
        tick=_LEFT - 6,
        label_top=_TOP + 10,
        top=display.quantity(top, unit),
        unit=unit,
        bars=bars,
        first=points[0].label,
        last=points[-1].label,
    )
