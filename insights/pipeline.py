"""The insight types this pipeline generates, found in :mod:`insights.analytics`.

An insight type is one module of that package declaring ``TYPE`` (an
:class:`~metadata.catalog.InsightType` name), ``VERSION`` (bumped when its method changes, so
stored insights say what made them) and either ``drafts(ctx)`` (per interval meter, from a
:class:`~insights.analytics.context.MeterContext`) or ``home_drafts(customer=, meter=,
last_day=)`` (per home and service). A type that also speaks of billing-read meters' read
periods declares ``read_period_drafts(ctx)`` (from a
:class:`~insights.analytics.context.ReadPeriodContext`); the others are not drafted for them.
Adding a type is adding its module: nothing here lists them. BUDGET_ALERT comes from the
budgets app.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from django.utils import translation

from insights import analytics
from insights.analytics.context import MeterContext, ReadPeriodContext
from insights.drafts import InsightDraft
from insights.text import language_of
from metadata.catalog import INSIGHT_TYPE_IDS


@dataclass(frozen=True)
class Generator:
    type: str
    version: str
    drafts: Callable[..., list[InsightDraft]]
    per_home: bool
    read_period_drafts: Callable[[ReadPeriodContext], list[InsightDraft]] | None


def _generator(module: ModuleType) -> Generator | None:
    insight_type = getattr(module, "TYPE", None)
    if insight_type is None:
        return None
    if insight_type not in INSIGHT_TYPE_IDS:
        raise ImportError(f"{module.__name__}: {insight_type!r} is not an insight type")
    per_home = hasattr(module, "home_drafts")
    return Generator(
        type=insight_type,
        version=module.VERSION,
        drafts=module.home_drafts if per_home else module.drafts,
        per_home=per_home,
        read_period_drafts=getattr(module, "read_period_drafts", None),
    )


def _discover() -> dict[str, Generator]:
    found = {}
    for info in sorted(pkgutil.iter_modules(analytics.__path__), key=lambda m: m.name):
        generator = _generator(importlib.import_module(f"{analytics.__name__}.{info.name}"))
        if generator is not None:
            found[generator.type] = generator
    # In the catalog's order, so listings and runs are stable.
    return {name: found[name] for name in INSIGHT_TYPE_IDS if name in found}


GENERATORS: dict[str, Generator] = _discover()
#: The types this pipeline produces.
GENERATED_TYPES: tuple[str, ...] = tuple(GENERATORS)
MODEL_VERSIONS: dict[str, str] = {name: g.version for name, g in GENERATORS.items()}


def meter_drafts(ctx: MeterContext | ReadPeriodContext, wanted: set[str]) -> list[InsightDraft]:
    """Every wanted per-meter insight of one meter, worded in its customer's language: of its
    days (interval meter) or of its read periods (billing-read meter)."""
    drafts: list[InsightDraft] = []
    with ctx.wording.active():
        for name, generator in GENERATORS.items():
            if name not in wanted or generator.per_home:
                continue
            if isinstance(ctx, ReadPeriodContext):
                if generator.read_period_drafts is not None:
                    drafts.extend(generator.read_period_drafts(ctx))
            else:
                drafts.extend(generator.drafts(ctx))
    return drafts


def home_drafts(*, customer, meter, last_day, wanted: set[str]) -> list[InsightDraft]:
    """Every wanted per-home insight of the home ``meter`` is the first meter of, worded in
    ``customer``'s language."""
    drafts: list[InsightDraft] = []
    with translation.override(language_of(customer.locale)):
        for name, generator in GENERATORS.items():
            if name in wanted and generator.per_home:
                drafts.extend(generator.drafts(customer=customer, meter=meter, last_day=last_day))
    return drafts
