"""Wire protocol: form decoding, errors, auth, idempotency, pagination, expansion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from paywindow.sandbox import SandboxHandle
from paywindow.sandbox.wire import decode_form
from tests.sandbox.conftest import session_params


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("metadata[order_id]=o_1", {"metadata": {"order_id": "o_1"}}),
        (
            "line_items[0][price_data][unit_amount]=1500&line_items[0][quantity]=2",
            {"line_items": [{"price_data": {"unit_amount": "1500"}, "quantity": "2"}]},
        ),
        ("expand[]=a&expand[]=b", {"expand": ["a", "b"]}),
        ("expand[0]=a&expand[1]=b", {"expand": ["a", "b"]}),
        ("created[gte]=100", {"created": {"gte": "100"}}),
        ("metadata[a]=", {"metadata": {"a": ""}}),
        ("x[0][0]=1&x[0][1]=2&x[1][0]=3", {"x": [["1", "2"], ["3"]]}),
        ("name=T+shirt", {"name": "T shirt"}),
    ],
    ids=["metadata", "nested", "brackets", "indexed", "range", "unset", "nested-arrays", "plus"],
)
def test_decode_form(raw: str, expected: dict[str, object]) -> None:
    assert decode_form(raw) == expected


def test_unknown_route_and_id(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    response = httpx.get(
        f"{sandbox.base_url}/v1/missing", headers={"Authorization": f"Bearer {sandbox.api_key}"}
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Unrecognized request URL (GET: /v1/missing). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
            "type": "invalid_request_error",
        }
    }
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve("cs_test_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert "No such checkout.session: 'cs_test_missing'" in str(caught.value)
    assert str(caught.value).startswith("Request req_")


def test_authentication(sandbox: SandboxHandle) -> None:
    bad = stripe.StripeClient(
        "sk_test_wrong", base_addresses={"api": sandbox.base_url}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.list()
    response = httpx.get(f"{sandbox.base_url}/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You did not provide an API key.")


def test_unknown_connected_account(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.PermissionError):
        client.v1.customers.list(options={"stripe_account": "acct_nope"})


def test_bad_stripe_version(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="Invalid Stripe API version: nope"):
        client.v1.customers.list(options={"stripe_version": "nope"})


def test_unknown_parameter(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(bogus="1"))
    assert caught.value.code == "parameter_unknown"
    assert caught.value.param == "bogus"


def test_missing_nested_param(client: stripe.StripeClient) -> None:
    params = session_params()
    del params["line_items"][0]["price_data"]["currency"]
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=params)
    assert caught.value.code == "parameter_missing"
    assert caught.value.param == "line_items[0][price_data][currency]"
    assert "Missing required param: line_items[0][price_data][currency]." in str(caught.value)


def test_idempotent_replay(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "order-1-attempt-1"}
    first = client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    again = client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.customers.list().data) == 1


def test_idempotency_mismatch(client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "key-1"}
    client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create(params={"email": "b@example.com"}, options=options)
    assert caught.value.http_status == 400
    assert caught.value.error is not None
    assert caught.value.error.message == (
        "Keys for idempotent requests can only be used with the same parameters they were "
        "first used with. Try using a key other than 'key-1' if you meant to execute a "
        "different request."
    )
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        client.v1.accounts.create(params={"type": "express"}, options=options)


def test_validation_failures_are_not_cached(client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "key-2"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=session_params(expires_at=1), options=options)
    session = client.v1.checkout.sessions.create(params=session_params(), options=options)
    assert session.status == "open"


def test_auto_paging_both_directions(client: stripe.StripeClient) -> None:
    created = [
        client.v1.customers.create(params={"email": f"c{i}@example.com"}).id for i in range(260)
    ]
    pages = client.v1.customers.list(params={"limit": 100})
    newest_first = [c.id for c in pages.auto_paging_iter()]
    assert newest_first == list(reversed(created))
    page = client.v1.customers.list(params={"limit": 3})
    assert page["object"] == "list" and page.url == "/v1/customers" and page.has_more
    backwards = client.v1.customers.list(params={"limit": 100, "ending_before": created[0]})
    oldest_first = [c.id for c in backwards.auto_paging_iter()]
    assert oldest_first == created[1:]


def test_limit_bounds_and_cursor_exclusivity(client: stripe.StripeClient) -> None:
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            client.v1.customers.list(params={"limit": bad})
        assert caught.value.param == "limit"
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.list(
            params={"starting_after": customer.id, "ending_before": customer.id}
        )


def test_created_filters(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    first = client.v1.customers.create()
    sandbox.advance(60)
    second = client.v1.customers.create()
    assert [c.id for c in client.v1.customers.list(params={"created": {"gt": first.created}})] == [
        second.id
    ]
    older = client.v1.customers.list(params={"created": {"lte": first.created}})
    assert [c.id for c in older] == [first.id]
    exact = client.v1.customers.list(params={"created": second.created})
    assert [c.id for c in exact] == [second.id]


def test_expand_both_spellings(sandbox: SandboxHandle, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    sandbox.pay(session.id)
    expanded = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert expanded.payment_intent.object == "payment_intent"  # type: ignore[union-attr]
    response = httpx.get(
        f"{sandbox.base_url}/v1/checkout/sessions/{session.id}?expand[]=payment_intent",
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    assert response.json()["payment_intent"]["object"] == "payment_intent"
    listed = client.v1.checkout.sessions.list(params={"expand": ["data.payment_intent"]})
    assert listed.data[0].payment_intent.object == "payment_intent"  # type: ignore[union-attr]
    with pytest.raises(stripe.InvalidRequestError, match=r"cannot be expanded \(status\)"):
        client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["status"]})


def test_metadata_unset(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, params={"metadata": {"a": ""}})
    assert updated.metadata is not None and updated.metadata.to_dict() == {"b": "2"}
    clear_all: Any = {"metadata": ""}
    cleared = client.v1.customers.update(customer.id, params=clear_all)
    assert cleared.metadata is not None and cleared.metadata.to_dict() == {}


def test_request_id_and_version_headers(sandbox: SandboxHandle) -> None:
    response = httpx.get(
        f"{sandbox.base_url}/v1/balance",
        headers={
            "Authorization": f"Bearer {sandbox.api_key}",
            "Stripe-Version": "2026-10-28.endive",
        },
    )
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["stripe-version"] == "2026-10-28.endive"


def test_sandbox_ids_come_from_the_one_generator() -> None:
    from paywindow.sandbox import wire
    from paywindow.stripe_ids import new_id

    assert not hasattr(wire, "new_id")
    charge, session, bare = new_id("ch"), new_id("cs_test", 58), new_id("", 16)
    assert charge.startswith("ch_") and len(charge) == 27
    assert session.startswith("cs_test_") and len(session) == 66
    assert len(bare) == 16 and bare.isalnum()
