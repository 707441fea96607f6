"""The insight models as pure functions of pandas/numpy data: no Django, no database.

Kept apart so each can be unit-tested on small hand-made series with known answers, and so the
backtest (``insights.evaluation``) runs exactly the code the nightly pipeline runs.
"""
