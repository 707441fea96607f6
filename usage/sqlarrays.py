"""Fixed-width arrays as statement parameters, written by numpy in PostgreSQL's binary format.

A rollup statement takes a meter-year of bucket boundaries and hour prices (9,000 values each);
psycopg's list dumper adapts them one Python object at a time (0.1 s per meter-year under
cProfile). These wrappers are dumped whole: the array header, then ``(length, value)`` per
element from one numpy record array. Use them through :func:`binary_cursor`.
"""

from __future__ import annotations

import numpy as np
import psycopg
from django.db import connection
from psycopg.adapt import Dumper
from psycopg.pq import Format

#: 1970-01-01 (numpy's epoch) minus 2000-01-01 (PostgreSQL's), in seconds.
_POSTGRES_EPOCH_SECONDS = 946_684_800
_ELEMENT = np.dtype([("length", ">i4"), ("value", ">i8")])


def _binary_array(values: np.ndarray, element_oid: int) -> bytes:
    """A one-dimensional array of 8-byte ``values`` without nulls, in binary wire format."""
    if values.size == 0:  # no dimensions at all
        return np.array([0, 0, element_oid], dtype=">i4").tobytes()
    header = np.array([1, 0, element_oid, values.size, 1], dtype=">i4")
    elements = np.empty(values.size, dtype=_ELEMENT)
    elements["length"] = 8
    elements["value"] = values
    return header.tobytes() + elements.tobytes()


class Int64Array:
    """A ``bigint[]`` parameter."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = np.asarray(values, dtype=np.int64)


class TimestampArray:
    """A ``timestamptz[]`` parameter from UTC epoch seconds."""

    def __init__(self, epochs: np.ndarray) -> None:
        self.epochs = np.asarray(epochs, dtype=np.int64)


class _Int64ArrayDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["int8"].array_oid

    def dump(self, obj: Int64Array) -> bytes:
        return _binary_array(obj.values, psycopg.postgres.types["int8"].oid)


class _TimestampArrayDumper(Dumper):
    format = Format.BINARY
    oid = psycopg.postgres.types["timestamptz"].array_oid

    def dump(self, obj: TimestampArray) -> bytes:
        micros = (obj.epochs - _POSTGRES_EPOCH_SECONDS) * 1_000_000
        return _binary_array(micros, psycopg.postgres.types["timestamptz"].oid)


def binary_cursor() -> psycopg.Cursor:
    """A cursor on Django's connection that binds parameters server-side and dumps these
    arrays (to be closed by the caller: ``with binary_cursor() as cursor``)."""
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    cursor.adapters.register_dumper(Int64Array, _Int64ArrayDumper)
    cursor.adapters.register_dumper(TimestampArray, _TimestampArrayDumper)
    return cursor
