"""The insight models, and beside each the insight type it makes.

The models (``daily_model``, ``bill``, ``forecast``, ``weather``, ``anomalies``, ``baseload``,
``peak``, ``peers``, ``metrics``) are pure functions of pandas/numpy data: no Django, no
database, so each can be unit-tested on small hand-made series with known answers and the
backtest (``insights.evaluation``) runs exactly the code the nightly pipeline runs. Each
insight type (``bill_forecast``, ``usage_anomaly``, ...) is one module that runs its model on
a meter's :class:`~insights.analytics.context.MeterContext` and words the result;
:mod:`insights.pipeline` finds them.
"""
