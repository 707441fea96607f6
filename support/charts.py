"""Usage charts as server-rendered SVG: no JavaScript, no CDN, readable with the page offline.

Each bar carries a ``<title>`` (the browser shows it on hover) with the bucket's local date,
quantity and cost; the page also lists the same points in a table beside the chart. A home
that exported more than it used in a bucket (net below zero) gets a bar below the zero line.
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
    flows: str  # a bidirectional meter's "x delivered · y received", else ""


def chart_points(
    buckets: Sequence[Bucket],
    *,
    slot_of: Callable[[date], int],
    date_format: str,
    timezone_name: str,
    unit: str,
    currency: str,
    bidirectional: bool = False,
) -> list[ChartPoint]:
    """``slot_of`` places a bucket by its first local date in the chart's window."""
    tz = zone(timezone_name)

    def flows(bucket: Bucket) -> str:
        if not bidirectional:
            return ""
        delivered = display.quantity(bucket.delivered, unit)
        return f"{delivered} delivered · {display.quantity(bucket.received, unit)} received"

    return [
        ChartPoint(
            slot=slot_of(bucket.start.astimezone(tz).date()),
            label=bucket.start.astimezone(tz).strftime(date_format),
            value=bucket.quantity,
            quantity=display.quantity(bucket.quantity, unit),
            cost=display.money(bucket.cost, currency),
            flows=flows(bucket),
        )
        for bucket in buckets
    ]


def usage_chart_svg(
    points: Sequence[ChartPoint], *, slots: int, unit: str, caption: str
) -> SafeString:
    """A bar per point in its slot of ``slots``, scaled to the span of the values (zero
    included), up from the zero line or down from it; an empty chart says so."""
    plot_width, plot_height = _WIDTH - _LEFT, _HEIGHT - _BOTTOM - _TOP
    top = max((point.value for point in points), default=Decimal(0))
    bottom = min((point.value for point in points), default=Decimal(0))
    if top <= 0 and bottom >= 0:
        return format_html('<p class="usage-chart-empty">{}: no usage yet.</p>', caption)
    top, bottom = max(top, Decimal(0)), min(bottom, Decimal(0))
    span = top - bottom
    zero = _TOP + float(top / span) * plot_height
    slot = plot_width / slots
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}: {} · {}{}</title></rect>',
        (
            (
                f"{_LEFT + point.slot * slot + slot * 0.1:.1f}",
                f"{zero - height if point.value > 0 else zero:.1f}",
                f"{slot * 0.8:.1f}",
                f"{height:.1f}",
                point.label,
                point.quantity,
                point.cost,
                f" ({point.flows})" if point.flows else "",
            )
            for point in points
            for height in [float(abs(point.value) / span) * plot_height]
        ),
    )
    return format_html(
        '<svg class="usage-chart" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{caption}</title>'
        '<line x1="{left}" y1="{zero}" x2="{w}" y2="{zero}" class="axis"/>'
        '<text x="{tick}" y="{label_top}" text-anchor="end">{top}</text>'
        '<text x="{tick}" y="{base}" text-anchor="end">{low}</text>'
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
        zero=f"{zero:.1f}",
        top=display.quantity(top, unit),
        low=display.quantity(bottom, unit) if bottom < 0 else f"0 {unit}",
        bars=bars,
        first=points[0].label,
        last=points[-1].label,
    )
