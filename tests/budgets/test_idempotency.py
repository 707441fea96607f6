"""Idempotency-Key on POST /Budgets (IETF idempotency-key draft), and the 20-budget limit under
concurrency. The concurrent tests run real requests in threads, each with its own APIClient
and database connection, against PostgreSQL; the first request is held inside the service by a
real row lock the test takes on the customer, so nothing of ours is mocked."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, connections, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from budgets.idempotency import (
    IDEMPOTENCY_KEY_PATTERN,
    IN_FLIGHT_LEASE,
    KEY_TTL,
    InvalidIdempotencyKey,
    idempotency_key_parse,
)
from budgets.models import Budget, IdempotencyRecord
from budgets.tasks import idempotency_records_purge
from customers.models import Customer
from tests.api.helpers import assert_validation_error
from tests.budgets.conftest import BUDGETS, make_budget, postgresql_only, valid_body
from tests.conftest import assert_problem, client_for

KEY = "0f6c2a8e-6a55-4c1e-9d7e-2b1f5c3a9e10"


def post(client, body: Any, key: str | None = KEY):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(BUDGETS, body, format="json", headers=headers)


def in_thread(call: Callable[[], Any]) -> Future:
    """Runs ``call`` in a new thread (so on its own database connection, closed after)."""

    def run() -> Any:
        try:
            return call()
        finally:
            connections.close_all()

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(run)
    executor.shutdown(wait=False)
    return future


def wait_until_a_backend_waits_for_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Statistics views are snapshotted per transaction, and the caller is in one.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    pytest.fail("the first request never reached the customer's lock")


# --- replay, reuse, scope, expiry -----------------------------------------------------------


def test_a_retry_replays_the_first_response(alice_api, account):
    first = post(alice_api, valid_body(account))
    again = post(alice_api, valid_body(account))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true"
    assert Budget.objects.count() == 1


def test_the_same_body_in_other_whitespace_and_key_order_is_the_same_request(alice_api, account):
    body = valid_body(account)
    first = post(alice_api, body)
    reordered = json.dumps(dict(reversed(body.items())), indent=4)

    again = alice_api.post(
        BUDGETS, reordered, content_type="application/json", headers={"Idempotency-Key": KEY}
    )

    assert again.status_code == 201
    assert again.json() == first.json()


def test_a_replay_is_the_original_even_after_the_budget_changed(alice_api, account):
    first = post(alice_api, valid_body(account))
    alice_api.patch(first["Location"], {"name": "Renamed"}, format="json")

    again = post(alice_api, valid_body(account))

    assert again.json()["name"] == "Electricity"
    stale = alice_api.patch(
        first["Location"], {"name": "x"}, format="json", HTTP_IF_MATCH=again["ETag"]
    )
    assert_problem(stale, 412, "precondition-failed")


def test_the_same_key_with_another_body_is_422(alice_api, account):
    post(alice_api, valid_body(account))

    response = post(alice_api, valid_body(account, limit="99.00"))

    assert_problem(response, 422, "idempotency-key-reused")
    assert Budget.objects.count() == 1


def test_keys_are_scoped_to_the_customer(alice_api, account, bob, bob_api):
    mine = post(alice_api, valid_body(account))
    theirs = post(bob_api, valid_body(bob.accounts.get()))

    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_key_expires_after_24_hours(alice_api, account):
    first = post(alice_api, valid_body(account))
    IdempotencyRecord.objects.update(
        created_at=IdempotencyRecord.objects.get().created_at - KEY_TTL
    )

    again = post(alice_api, valid_body(account, limit="99.00"))

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again


def test_expired_records_are_purged(alice, alice_api, account):
    post(alice_api, valid_body(account), key="old")
    post(alice_api, valid_body(account), key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=IdempotencyRecord.objects.get(key="old").created_at - KEY_TTL
    )

    idempotency_records_purge.delay()

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_a_failed_request_does_not_use_up_its_key(alice, alice_api, account):
    assert_validation_error(post(alice_api, valid_body(account, limit="0")), "/limit")
    for n in range(20):
        make_budget(alice, name=f"B{n}")
    assert_problem(post(alice_api, valid_body(account)), 409, "conflict")
    Budget.objects.filter(customer=alice).first().delete()

    assert post(alice_api, valid_body(account)).status_code == 201


def test_without_a_key_every_post_creates(alice_api, account):
    post(alice_api, valid_body(account), key=None)
    post(alice_api, valid_body(account), key=None)
    assert Budget.objects.count() == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize(
    "key",
    ["", " ", "x" * 256, "cl\u00e9", "tab\there", '"unterminated', '"bad \\escape"', '""'],
    ids=[
        "empty",
        "space",
        "too-long",
        "non-ascii",
        "control",
        "unterminated",
        "escape",
        "quoted-empty",
    ],
)
def test_malformed_keys_are_400(alice_api, account, key):
    response = post(alice_api, valid_body(account), key=key)

    assert_validation_error(response, "Idempotency-Key")
    assert not Budget.objects.exists()


@settings(max_examples=500, derandomize=True)
@given(
    st.one_of(
        st.text(st.characters(min_codepoint=0, max_codepoint=0x80), max_size=260),
        st.text(st.sampled_from('ab \\"'), max_size=8).map(lambda inner: f'"{inner}"'),
        st.text(st.sampled_from("ab \t"), max_size=6),
    )
)
def test_the_schema_pattern_accepts_exactly_the_keys_the_parser_accepts(header):
    """The OpenAPI ``Idempotency-Key`` pattern and the server agree (fuzzers rely on it).

    Surrounding blanks are HTTP's, not the key's: servers strip them before we see the value.
    """
    value = header.strip(" \t")
    try:
        idempotency_key_parse(value)
        accepted = True
    except InvalidIdempotencyKey:
        accepted = False

    assert (re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value) is not None) is accepted, value


def test_a_quoted_key_is_the_same_key_and_255_characters_are_fine(alice_api, account):
    first = post(alice_api, valid_body(account), key='"abc \\"1\\""')
    again = post(alice_api, valid_body(account), key='abc "1"')
    assert again.json() == first.json()
    assert post(alice_api, valid_body(account), key="k" * 255).status_code == 201


def test_an_abandoned_claim_is_taken_over_after_the_lease(alice, alice_api, account):
    # A request whose worker died after claiming the key: in flight for longer than any
    # request may run.
    post(alice_api, valid_body(account))
    Budget.objects.all().delete()
    IdempotencyRecord.objects.update(
        status="IN_FLIGHT",
        response_status=None,
        response_body=None,
        created_at=IdempotencyRecord.objects.get().created_at - IN_FLIGHT_LEASE,
    )

    response = post(alice_api, valid_body(account))

    assert response.status_code == 201
    assert Budget.objects.count() == 1


# --- concurrency (PostgreSQL) ------------------------------------------------------------------


@postgresql_only
def test_a_retry_while_the_first_request_runs_is_409(transactional_db, alice, account):
    first_client, retry_client = client_for(alice), client_for(alice)
    body = valid_body(account)

    with transaction.atomic():
        # Hold the customer's row: the first request claims its key (committed at once),
        # then waits in budget_create for this lock.
        Customer.objects.select_for_update(no_key=True).get(pk=alice.pk)
        first = in_thread(lambda: post(first_client, body))
        wait_until_a_backend_waits_for_a_lock()

        retry = in_thread(lambda: post(retry_client, body)).result(timeout=10)
        other = in_thread(lambda: post(retry_client, {**body, "limit": "1.00"})).result(timeout=10)

        assert_problem(retry, 409, "conflict")
        assert retry["Retry-After"] == "1"
        assert_problem(other, 422, "idempotency-key-reused")
        assert not first.done()

    created = first.result(timeout=10)
    assert created.status_code == 201, created.content
    replay = post(retry_client, body)
    assert replay.status_code == 201
    assert replay.json() == created.json()
    assert replay["Location"] == created["Location"]
    assert Budget.objects.count() == 1


@postgresql_only
def test_simultaneous_requests_with_one_key_create_one_budget(transactional_db, alice, account):
    clients = [client_for(alice) for _ in range(4)]
    start = threading.Barrier(len(clients))

    def attempt(client):
        start.wait()
        return post(client, valid_body(account))

    outcomes = [in_thread(lambda c=c: attempt(c)) for c in clients]
    responses = [outcome.result(timeout=20) for outcome in outcomes]

    assert Budget.objects.count() == 1
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r.json() for r in responses if r.status_code == 201]
    assert created and all(body == created[0] for body in created)


@postgresql_only
def test_concurrent_creates_never_pass_20(transactional_db, alice, account):
    for n in range(18):
        make_budget(alice, name=f"B{n}")
    clients = [client_for(alice) for _ in range(4)]
    start = threading.Barrier(len(clients))

    def attempt(client):
        start.wait()
        return post(client, valid_body(account), key=None)

    outcomes = [in_thread(lambda c=c: attempt(c)) for c in clients]
    statuses = sorted(outcome.result(timeout=20).status_code for outcome in outcomes)

    assert statuses == [201, 201, 409, 409]
    assert alice.budgets.count() == 20
