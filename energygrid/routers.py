"""Database routing: reads to a replica when ``DATABASE_REPLICA_URL`` configures one.

Writes, migrations and every query inside a transaction go to ``default``: a transaction
reads its own writes, and a ``select_for_update`` locks the primary's rows. Reads outside a
transaction may see the replica's lag (seconds at most with streaming replication): a read
right after a write in another request can miss it, which the API's reads tolerate (rollups
and insights are written by workers and caught up asynchronously anyway).
"""

from __future__ import annotations

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_DB_ALIAS = "replica"


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if (
            REPLICA_DB_ALIAS in settings.DATABASES
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA_DB_ALIAS
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, two connections to it

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS
