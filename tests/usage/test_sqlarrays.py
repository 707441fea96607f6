"""usage.sqlarrays: numpy arrays bound as PostgreSQL arrays in binary, read back equal."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from django.db import connection

from usage.sqlarrays import Int64Array, TimestampArray, binary_cursor

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's wire format"),
]


@pytest.mark.parametrize(
    "epochs", [[], [0], [-2_208_988_800, 946_684_800, 1_790_000_000, 7_258_118_400]]
)
def test_arrays_read_back_as_bound(epochs):
    values = np.array(epochs, dtype=np.int64) * 3 - 1
    with binary_cursor() as cursor:
        cursor.execute(
            "SELECT %(t)b::timestamptz[], %(v)b::bigint[], cardinality(%(t)b::timestamptz[])",
            {"t": TimestampArray(np.array(epochs)), "v": Int64Array(values)},
        )
        instants, numbers, size = cursor.fetchone()

    assert instants == [datetime.fromtimestamp(e, UTC) for e in epochs]
    assert numbers == values.tolist()
    assert size == len(epochs)
