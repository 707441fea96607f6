from __future__ import annotations

from celery import shared_task

from customers.identity import purge_expired_identity_tokens
from customers.services import sessions_purge_expired


@shared_task
def purge_expired_tokens() -> None:
    """Forgets consumed ID tokens and refresh tokens past their expiry."""
    purge_expired_identity_tokens()
    sessions_purge_expired()
