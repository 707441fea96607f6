"""``import_customers FILE``: apply a utility's CIS extract (JSON), all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from tqdm import tqdm

from customers.cis import CustomersImportInvalid, customers_document_parse, customers_import
from energygrid.commands import OpsCommand


class Command(OpsCommand):
    help = (
        "Imports a CIS extract (JSON, one utility per file): tariffs, customers, accounts, "
        "premises and meters. Validated in full first; upserts; re-importing changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE", help="The JSON extract.")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            raw = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        try:
            document = customers_document_parse(raw=raw)
            customers = document.get("customers") if isinstance(document, dict) else None
            total = len(customers) if isinstance(customers, list) else 0
            with tqdm(total=total, unit="customer", disable=None) as bar:
                result = customers_import(document=document, progress=bar.update)
        except CustomersImportInvalid as exc:
            raise CommandError(f"{file}: nothing imported: {exc}") from None
        self.stdout.write(result.summary())
