"""Loading readings (CSV and Green Button ESPI), all-or-nothing per file: interval readings
and read periods, delivered and received (contract sections 8 and 10).

``validation`` says what a reading must be and how a rejection reads, ``csvfile`` and
``greenbutton`` turn files into readings, ``staging`` stages and writes them, and ``service``
ties it together for the ``import_readings`` command and for generated readings.
"""

from usage.imports.service import readings_import, readings_upsert
from usage.imports.validation import (
    ImportResult,
    NewReading,
    ReadingsImportError,
    ReadingsRejected,
)

__all__ = [
    "ImportResult",
    "NewReading",
    "ReadingsImportError",
    "ReadingsRejected",
    "readings_import",
    "readings_upsert",
]
