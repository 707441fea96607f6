"""PEER_COMPARISON: a home's usage last month against similar homes nearby (the statistics:
:mod:`insights.analytics.peers`). Per home and service, not per meter: ``home_drafts``."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.translation import gettext as _

from customers.models import Customer, Meter
from insights.analytics import peers
from insights.analytics.context import quantity
from insights.drafts import InsightDraft
from insights.selectors import peer_month_quantities
from insights.text import Wording
from metadata.catalog import InsightType
from usage.calendar import local_date_start, zone

TYPE = InsightType.PEER_COMPARISON.name
VERSION = "peer-comparison/1.1"


def home_drafts(*, customer: Customer, meter: Meter, last_day: date) -> list[InsightDraft]:
    """The comparison of ``meter``'s home for its service (all the home's meters of that
    service and unit together) over the last local month complete by ``last_day``."""
    account = meter.account
    premise = getattr(account, "premise", None)
    if premise is None or not premise.weather_region or premise.floor_area_sqm is None:
        return []
    month_first = (last_day + timedelta(days=1)).replace(day=1)
    first = (month_first - timedelta(days=1)).replace(day=1)
    statistics = peer_month_quantities(customer=customer, account=account, meter=meter, first=first)
    if statistics is None:
        return []
    yours, others = statistics
    result = peers.peer_statistics(yours, others)
    if result is None:
        return []
    words = Wording(
        locale=customer.locale, currency=customer.billing_currency, unit=meter.unit_of_measure
    )
    difference = yours / result.average - 1 if result.average > 0 else 0.0
    values = {"change": words.percent(difference)}
    if difference > 0:
        title = _("You used %(change)s more than similar homes") % values
    else:
        title = _("You used %(change)s less than similar homes") % values
    summary = _(
        "In %(month)s your home used %(yours)s; similar homes nearby used %(average)s on "
        "average and the most efficient fifth %(efficient)s or less."
    ) % {
        "month": words.month(first),
        "yours": words.energy(yours),
        "average": words.energy(result.average),
        "efficient": words.energy(result.efficient),
    }
    tz = zone(meter.timezone)
    return [
        InsightDraft(
            customer=customer,
            type=TYPE,
            subject_key=f"account:{account.pk}:{meter.service_type}",
            account=account,
            meter=None,
            period_start=local_date_start(tz, first),
            period_end=local_date_start(tz, month_first),
            model_version=VERSION,
            title=title,
            summary=summary,
            data={
                "percentile": round(result.percentile, 1),
                "cohortSize": result.cohort_size,
                "yourQuantity": quantity(yours),
                "averageQuantity": quantity(result.average),
                "efficientQuantity": quantity(result.efficient),
                "serviceType": meter.service_type,
                "unitOfMeasure": meter.unit_of_measure,
            },
        )
    ]
