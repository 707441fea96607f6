"""SOLAR_EXPORT: what a bidirectional meter sent back to the grid over the last complete
billing period (for a billing-read meter, its last read period), the credit that earned, what
it drew, the net, and what it sent a year earlier (contract 10.1). Read from the period's
BILLING_PERIOD rollup, whose received figures are the exported energy and its credit."""

from __future__ import annotations

from django.utils.translation import gettext as _

from energygrid.money import format_money
from insights.analytics.context import MeterContext, ReadPeriodContext, quantity
from insights.datasets import billing_period_rollups
from insights.drafts import InsightDraft
from metadata.catalog import InsightType

TYPE = InsightType.SOLAR_EXPORT.name
VERSION = "solar-export/1.0"


def drafts(ctx: MeterContext | ReadPeriodContext) -> list[InsightDraft]:
    """The export of the last complete period, if the meter is bidirectional and exported
    anything in it."""
    if not ctx.meter.bidirectional:
        return []
    span = ctx.last_complete_period()
    earlier = ctx.year_before(span)
    starts = [span.start] if earlier is None else [span.start, earlier.start]
    rollups = billing_period_rollups(meter=ctx.meter, starts=starts)
    rollup = rollups.get(span.start)
    if rollup is None or rollup.received_quantity <= 0:
        return []
    previous = None if earlier is None else rollups.get(earlier.start)
    received, delivered = float(rollup.received_quantity), float(rollup.quantity)
    credit = rollup.received_cost
    words = ctx.wording
    summary = _(
        "From %(first)s to %(last)s you sent %(received)s back to the grid and drew "
        "%(delivered)s from it: %(net)s net."
    ) % {
        "first": words.day(span.first),
        "last": words.day(span.last),
        "received": words.energy(received),
        "delivered": words.energy(delivered),
        "net": words.energy(delivered - received),
    }
    if credit is not None:
        summary += " " + _("Your exports earned a credit of %(credit)s.") % {
            "credit": words.money(credit)
        }
    if previous is not None:
        summary += " " + _("A year earlier you sent %(previous)s.") % {
            "previous": words.energy(float(previous.received_quantity))
        }
    return [
        ctx.draft_span(
            TYPE,
            VERSION,
            span,
            title=_("You sent %(quantity)s back to the grid")
            % {"quantity": words.energy(received)},
            summary=summary,
            data={
                "received": quantity(received),
                "credit": format_money(credit, ctx.currency),
                "delivered": quantity(delivered),
                "net": quantity(delivered - received),
                "previousReceived": None
                if previous is None
                else quantity(float(previous.received_quantity)),
                "unitOfMeasure": ctx.meter.unit_of_measure,
            },
        )
    ]


#: A billing-read meter's last complete period is its last read period: the same figures.
read_period_drafts = drafts
