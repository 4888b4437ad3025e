"""Paid plans: Stripe's signed webhook events applied to entitlements once each and in order, the
Checkout route, the caller's plan, and the monthly allowances the Maps and Listen APIs spend.

Events are signed exactly as Stripe signs them (the stripe library's own `generate_signature_header`:
HMAC-SHA256 of `{timestamp}.{raw body}` under the endpoint's `whsec_` secret) and sent as API
Gateway hands them to the function, against moto with the template's tables and a Secrets Manager
secret. Only Stripe's API (Checkout session creation) is replaced, at the edge."""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any
from unittest import mock

import boto3
import pytest
import stripe

from soundcanvas.core.billing import Billing, BillingStore
from soundcanvas.core.entitlements import Allowances, EntitlementStore
from tests.apigw import call, event
from tests.conftest import load_function

SECRET = "whsec_unit_test_signing_secret_0123456789"  # pragma: allowlist secret
REGION = "us-east-1"
_ids = itertools.count(1)


@pytest.fixture
def billing_env(aws: dict[str, Any], sam_template: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The billing function's environment, and its webhook secret in Secrets Manager (moto)."""
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="stripe/webhook", SecretString=SECRET)
    monkeypatch.setenv("BILLING_TABLE_NAME", sam_template.names["BillingTable"])
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_NAME", "stripe/webhook")
    for name in ("STRIPE_API_KEY_SECRET_NAME", "STRIPE_PRICE_ID", "BILLING_SUCCESS_URL", "BILLING_CANCEL_URL"):
        monkeypatch.delenv(name, raising=False)
    return {"users": sam_template.names["UsersTable"], "billing": sam_template.names["BillingTable"],
            "quotas": sam_template.names["QuotasTable"]}


@pytest.fixture
def billing_api(billing_env: dict[str, Any]) -> Any:
    return load_function("billing_api")


def stripe_event(event_type: str, obj: dict[str, Any], *, created: int | None = None,
                 event_id: str | None = None) -> dict[str, Any]:
    return {"id": event_id or f"evt_test{next(_ids):06d}", "object": "event", "type": event_type,
            "api_version": "2025-06-30.basil", "created": int(time.time()) if created is None else created,
            "livemode": False, "data": {"object": obj}}


def checkout_completed(user: str, *, customer: str = "cus_A", subscription: str = "sub_A", **kw: Any) -> dict[str, Any]:
    return stripe_event("checkout.session.completed", {
        "id": "cs_test_1", "object": "checkout.session", "mode": "subscription", "payment_status": "paid",
        "status": "complete", "client_reference_id": user, "customer": customer, "subscription": subscription}, **kw)


def subscription_event(kind: str, status: str, *, user: str | None = "alice", subscription: str = "sub_A",
                       customer: str = "cus_A", **kw: Any) -> dict[str, Any]:
    obj = {"id": subscription, "object": "subscription", "status": status, "customer": customer,
           "metadata": {"userId": user} if user else {}}
    return stripe_event(f"customer.subscription.{kind}", obj, **kw)


def webhook_request(payload: str | bytes, *, signature: str | None, base64_body: bool = False) -> dict[str, Any]:
    raw = payload.encode() if isinstance(payload, str) else payload
    ev = event("POST", "/billing/webhook", user=None,
               body=base64.b64encode(raw).decode() if base64_body else raw.decode())
    ev["isBase64Encoded"] = base64_body
    ev["headers"] = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
    if signature is not None:
        ev["headers"]["Stripe-Signature"] = signature
    return ev


def send(api: Any, stripe_evt: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None,
         base64_body: bool = False) -> tuple[int, Any]:
    payload = json.dumps(stripe_evt)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return call(api, webhook_request(payload, signature=header, base64_body=base64_body))


def entitlement(env: dict[str, Any], user: str) -> dict[str, Any]:
    return EntitlementStore(env["users"], REGION).get(user)


# --- the webhook: signatures ---------------------------------------------------------------------
def test_a_signed_checkout_makes_the_user_pro(billing_api: Any, billing_env: dict[str, Any]) -> None:
    evt = checkout_completed("alice")
    assert send(billing_api, evt) == (200, {"received": True, "duplicate": False, "outcome": "applied"})
    got = entitlement(billing_env, "alice")
    assert (got["plan"], got["planStatus"], got["stripeCustomerId"], got["stripeSubscriptionId"]) == \
        ("pro", "active", "cus_A", "sub_A")
    assert got["planEventAt"] == evt["created"] and got["planEventId"] == evt["id"]
    assert BillingStore(billing_env["billing"], REGION).customer_user("cus_A") == "alice"
    assert entitlement(billing_env, "bob")["plan"] == "free"


@pytest.mark.parametrize("tamper", ["body", "secret", "expired", "missing", "garbled"])
def test_a_delivery_stripe_did_not_sign_is_400_and_changes_nothing(
        billing_api: Any, billing_env: dict[str, Any], tamper: str) -> None:
    evt = checkout_completed("alice")
    payload = json.dumps(evt)
    secret, timestamp = SECRET, None
    if tamper == "secret":
        secret = "whsec_someone_elses_secret"  # pragma: allowlist secret
    if tamper == "expired":
        timestamp = int(time.time()) - 301  # Stripe's tolerance is 300 s
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    if tamper == "body":
        payload = payload.replace('"client_reference_id": "alice"', '"client_reference_id": "mallory"')
    status, body = call(billing_api, webhook_request(
        payload, signature=None if tamper == "missing" else ("t=abc,v1=" if tamper == "garbled" else header)))
    assert status == 400 and body["message"].startswith("webhook signature verification failed")
    expected = {"body": "No signatures found matching", "secret": "No signatures found matching",  # pragma: allowlist secret
                "expired": "Timestamp outside the tolerance zone", "missing": "Stripe-Signature header is missing",
                "garbled": "Unable to extract timestamp"}[tamper]
    assert expected in body["message"]
    assert SECRET not in json.dumps(body)
    assert entitlement(billing_env, "alice")["plan"] == "free"
    assert entitlement(billing_env, "mallory")["plan"] == "free"
    assert BillingStore(billing_env["billing"], REGION).event(evt["id"]) is None  # not even recorded


def test_a_signature_is_checked_on_the_raw_bytes_not_on_reparsed_json(billing_api: Any,
                                                                       billing_env: dict[str, Any]) -> None:
    """The same JSON with other white space is another payload: a signature over one does not cover the other."""
    evt = checkout_completed("alice")
    header = stripe.WebhookSignature.generate_signature_header(json.dumps(evt, indent=2), SECRET)
    status, _ = call(billing_api, webhook_request(json.dumps(evt), signature=header))
    assert status == 400 and entitlement(billing_env, "alice")["plan"] == "free"


def test_a_base64_encoded_body_is_decoded_before_its_signature_is_checked(billing_api: Any,
                                                                          billing_env: dict[str, Any]) -> None:
    evt = checkout_completed("alice")
    assert send(billing_api, evt, base64_body=True)[0] == 200
    assert entitlement(billing_env, "alice")["plan"] == "pro"
    bad = webhook_request("not base64!!", signature="t=1,v1=00")
    bad["body"], bad["isBase64Encoded"] = "not base64!!", True
    assert call(billing_api, bad)[0] == 400


def test_a_signed_payload_that_is_not_an_event_is_400(billing_api: Any) -> None:
    payload = json.dumps({"hello": "world"})
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    status, body = call(billing_api, webhook_request(payload, signature=header))
    assert status == 400 and "not a Stripe event" in body["message"]


def test_without_a_signing_secret_the_webhook_is_503(billing_env: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_NAME", "")
    api = load_function("billing_api")
    status, body = send(api, checkout_completed("alice"))
    assert status == 503 and body["message"].startswith("billing is not configured")
    assert entitlement(billing_env, "alice")["plan"] == "free"


# --- the webhook: once, in order -----------------------------------------------------------------
def test_a_replayed_event_is_applied_once(billing_api: Any, billing_env: dict[str, Any]) -> None:
    now = int(time.time())
    first = checkout_completed("alice", created=now - 100)
    assert send(billing_api, first)[1]["duplicate"] is False
    cancel = subscription_event("deleted", "canceled", created=now - 50)
    assert send(billing_api, cancel)[1] == {"received": True, "duplicate": False, "outcome": "applied"}
    assert entitlement(billing_env, "alice")["plan"] == "free"
    # Stripe delivers the checkout again (a retry), freshly signed: seen before, nothing happens.
    assert send(billing_api, first)[1] == {"received": True, "duplicate": True, "outcome": "applied"}
    got = entitlement(billing_env, "alice")
    assert got["plan"] == "free" and got["planEventId"] == cancel["id"]


def test_an_older_event_delivered_late_changes_nothing(billing_api: Any, billing_env: dict[str, Any]) -> None:
    now = int(time.time())
    send(billing_api, checkout_completed("alice", created=now - 300))
    deleted = subscription_event("deleted", "canceled", created=now - 100)
    late_update = subscription_event("updated", "active", created=now - 200)  # created before the deletion
    assert send(billing_api, deleted)[1]["outcome"] == "applied"
    assert send(billing_api, late_update)[1] == {"received": True, "duplicate": False, "outcome": "older"}
    got = entitlement(billing_env, "alice")
    assert (got["plan"], got["planStatus"], got["planEventId"]) == ("free", "canceled", deleted["id"])


def test_a_deletion_created_before_a_later_update_does_not_undo_it(billing_api: Any,
                                                                   billing_env: dict[str, Any]) -> None:
    """A subscription canceled, then resumed (a newer update): the cancel's event delivered last is stale."""
    now = int(time.time())
    deleted = subscription_event("deleted", "canceled", created=now - 100)
    resumed = subscription_event("updated", "active", created=now - 50)
    assert send(billing_api, resumed)[1]["outcome"] == "applied"
    assert send(billing_api, deleted)[1]["outcome"] == "older"
    assert entitlement(billing_env, "alice")["plan"] == "pro"


def test_the_end_of_an_old_subscription_does_not_cancel_the_new_one(billing_api: Any,
                                                                    billing_env: dict[str, Any]) -> None:
    now = int(time.time())
    send(billing_api, checkout_completed("alice", subscription="sub_new", created=now - 100))
    old_ends = subscription_event("updated", "unpaid", subscription="sub_old", created=now - 10)
    assert send(billing_api, old_ends)[1]["outcome"] == "other-subscription"
    got = entitlement(billing_env, "alice")
    assert (got["plan"], got["stripeSubscriptionId"]) == ("pro", "sub_new")


@pytest.mark.parametrize(("status", "plan"), [("active", "pro"), ("trialing", "pro"), ("past_due", "pro"),
                                              ("unpaid", "free"), ("canceled", "free"), ("incomplete", "free"),
                                              ("incomplete_expired", "free"), ("paused", "free")])
def test_subscription_status_decides_the_plan(billing_api: Any, billing_env: dict[str, Any], status: str,
                                              plan: str) -> None:
    now = int(time.time())
    send(billing_api, checkout_completed("alice", created=now - 10))
    assert send(billing_api, subscription_event("updated", status, created=now))[1]["outcome"] == "applied"
    got = entitlement(billing_env, "alice")
    assert (got["plan"], got["planStatus"]) == (plan, status)


def test_a_failed_payment_marks_past_due_and_keeps_the_plan(billing_api: Any, billing_env: dict[str, Any]) -> None:
    now = int(time.time())
    send(billing_api, checkout_completed("alice", created=now - 10))
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_A",  # found through the customer's link
               "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_A"}}}
    assert send(billing_api, stripe_event("invoice.payment_failed", invoice, created=now))[1]["outcome"] == "applied"
    got = entitlement(billing_env, "alice")
    assert (got["plan"], got["planStatus"]) == ("pro", "past_due")
    # Stripe gives up: the subscription becomes unpaid, and that takes the plan away
    send(billing_api, subscription_event("updated", "unpaid", created=now + 1))
    assert entitlement(billing_env, "alice")["plan"] == "free"


def test_events_nobody_can_be_matched_to_or_that_we_do_not_use_are_recorded_and_ignored(
        billing_api: Any, billing_env: dict[str, Any]) -> None:
    store = BillingStore(billing_env["billing"], REGION)
    unknown = stripe_event("charge.refunded", {"id": "ch_1", "object": "charge"})
    assert send(billing_api, unknown)[1] == {"received": True, "duplicate": False, "outcome": "ignored"}
    stranger = subscription_event("updated", "active", user=None, customer="cus_unknown")
    assert send(billing_api, stranger)[1]["outcome"] == "unmatched"
    one_off = stripe_event("checkout.session.completed", {"object": "checkout.session", "mode": "payment",
                                                          "client_reference_id": "alice"})
    assert send(billing_api, one_off)[1]["outcome"] == "ignored"
    assert store.event(unknown["id"])["outcome"] == "ignored"
    assert send(billing_api, unknown)[1]["duplicate"] is True
    assert entitlement(billing_env, "alice")["plan"] == "free"


def test_a_checkout_still_awaiting_payment_links_the_customer_only(billing_api: Any,
                                                                    billing_env: dict[str, Any]) -> None:
    evt = checkout_completed("alice")
    evt["data"]["object"]["payment_status"] = "unpaid"
    assert send(billing_api, evt)[1]["outcome"] == "linked"
    assert entitlement(billing_env, "alice")["plan"] == "free"
    paid = subscription_event("updated", "active", user=None)  # no metadata: found through the customer link
    assert send(billing_api, paid)[1]["outcome"] == "applied"
    assert entitlement(billing_env, "alice")["plan"] == "pro"


def test_an_event_that_fails_to_apply_is_not_recorded_so_stripes_retry_applies_it(billing_env: dict[str, Any]) -> None:
    store = BillingStore(billing_env["billing"], REGION)
    entitlements = EntitlementStore(billing_env["users"], REGION)
    billing = Billing(store, entitlements)
    evt = checkout_completed("alice")
    with mock.patch.object(entitlements, "change", side_effect=RuntimeError("DynamoDB is down")), \
            pytest.raises(RuntimeError):
        billing.handle(evt)
    assert store.event(evt["id"]) is None
    assert billing.handle(evt).outcome == "applied" and entitlements.get("alice")["plan"] == "pro"


def test_a_claim_left_by_a_crash_is_taken_over_after_a_while(billing_env: dict[str, Any]) -> None:
    clock = mock.Mock(return_value=1_800_000_000.0)
    store = BillingStore(billing_env["billing"], REGION, clock=clock)
    assert store.claim("evt_crash", "checkout.session.completed", 1_800_000_000)
    assert not store.claim("evt_crash", "checkout.session.completed", 1_800_000_000)  # in flight: a duplicate
    clock.return_value += 301
    assert store.claim("evt_crash", "checkout.session.completed", 1_800_000_000)


def test_the_plan_attributes_leave_the_other_products_attributes_on_the_user_item(
        billing_api: Any, billing_env: dict[str, Any], aws: dict[str, Any]) -> None:
    from soundcanvas.listen.preferences import PreferencesStore

    PreferencesStore(billing_env["users"], REGION).update("alice", {"difficultyLevel": "advanced"})
    send(billing_api, checkout_completed("alice"))
    assert PreferencesStore(billing_env["users"], REGION).get("alice")["difficultyLevel"] == "advanced"
    assert entitlement(billing_env, "alice")["plan"] == "pro"


# --- checkout and the caller's plan --------------------------------------------------------------
def test_checkout_without_stripe_configured_is_503(billing_api: Any) -> None:
    status, body = call(billing_api, event("POST", "/billing/checkout"))
    assert status == 503 and body["message"].startswith("billing is not configured")
    assert "StripeApiKeySecretName" in body["message"]


def test_checkout_creates_a_subscription_session_for_the_caller(billing_env: dict[str, Any],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    api_key = "sk_test_unit"  # pragma: allowlist secret
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="stripe/key", SecretString=api_key)
    for name, value in (("STRIPE_API_KEY_SECRET_NAME", "stripe/key"), ("STRIPE_PRICE_ID", "price_pro"),
                        ("BILLING_SUCCESS_URL", "https://app.example/ok"),
                        ("BILLING_CANCEL_URL", "https://app.example/no")):
        monkeypatch.setenv(name, value)
    api = load_function("billing_api")
    session = mock.Mock(url="https://checkout.stripe.com/c/pay/cs_test_1", id="cs_test_1")
    with mock.patch("stripe.checkout.Session.create", return_value=session) as create:  # Stripe's API: the edge
        status, body = call(api, event("POST", "/billing/checkout"))
    assert (status, body) == (201, {"checkoutUrl": session.url, "sessionId": "cs_test_1"})
    kwargs = create.call_args.kwargs
    assert kwargs["api_key"] == api_key and kwargs["mode"] == "subscription"
    assert kwargs["client_reference_id"] == "alice" and kwargs["subscription_data"]["metadata"]["userId"] == "alice"
    assert kwargs["line_items"] == [{"price": "price_pro", "quantity": 1}]
    assert (kwargs["success_url"], kwargs["cancel_url"]) == ("https://app.example/ok", "https://app.example/no")
    with mock.patch("stripe.checkout.Session.create",
                    side_effect=stripe.APIConnectionError("could not reach Stripe")):
        status, body = call(api, event("POST", "/billing/checkout"))
    assert status == 502 and "could not reach Stripe" in body["message"]
    send(api, checkout_completed("alice"))
    with mock.patch("stripe.checkout.Session.create") as create:
        assert call(api, event("POST", "/billing/checkout"))[0] == 409  # already pro
    create.assert_not_called()


def test_the_plan_route_shows_the_plan_and_what_is_left_this_month(billing_api: Any) -> None:
    status, body = call(billing_api, event("GET", "/billing/plan"))
    assert status == 200 and body["plan"] == "free" and body["status"] is None
    assert body["allowances"]["maps"]["limit"] == 30 and body["allowances"]["transcriptions"]["left"] == 30
    send(billing_api, checkout_completed("alice"))
    body = call(billing_api, event("GET", "/billing/plan"))[1]
    assert body["plan"] == "pro" and body["allowances"]["maps"]["limit"] == 500 and body["status"] == "active"
    assert call(billing_api, event("GET", "/billing/plan", user=None))[0] == 401


# --- the allowances the APIs spend ---------------------------------------------------------------
def test_the_transcriptions_api_spends_the_monthly_allowance_of_the_callers_plan(
        billing_api: Any, billing_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREE_TRANSCRIPTIONS_PER_MONTH", "2")
    monkeypatch.setenv("PRO_TRANSCRIPTIONS_PER_MONTH", "3")
    listen = load_function("transcriptions_api")
    for user in ("alice", "bob"):
        for _ in range(2):
            assert call(listen, event("POST", "/transcriptions", user=user, body={}))[0] == 201
    status, body = call(listen, event("POST", "/transcriptions", user="alice", body={}))
    assert status == 429
    assert "2 transcriptions per month" in body["message"] and "the free plan" in body["message"]
    assert "upgrade to pro with POST /billing/checkout for 3 a month" in body["message"]
    assert 0 < body["retryAfterSeconds"] <= 31 * 86400
    send(billing_api, checkout_completed("bob"))  # bob pays: his month's count stays, his limit grows
    assert call(listen, event("POST", "/transcriptions", user="bob", body={}))[0] == 201
    status, body = call(listen, event("POST", "/transcriptions", user="bob", body={}))
    assert status == 429 and "the pro plan includes 3 transcriptions a month, the most of any plan" in body["message"]
    usage = Allowances(EntitlementStore(billing_env["users"], REGION), listen.quotas, listen.allowances.plans)
    assert usage.usage("bob")["allowances"]["transcriptions"] == {
        "limit": 3, "used": 3, "left": 0, "renewsAt": usage.usage("bob")["allowances"]["transcriptions"]["renewsAt"]}


def test_a_refused_transcription_gives_its_allowance_back(billing_env: dict[str, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FREE_TRANSCRIPTIONS_PER_MONTH", "5")
    monkeypatch.setenv("TRANSCRIPTION_QUOTA", "1")  # the rate quota refuses the second
    listen = load_function("transcriptions_api")
    assert call(listen, event("POST", "/transcriptions", body={}))[0] == 201
    status, body = call(listen, event("POST", "/transcriptions", body={}))
    assert status == 429 and "per hour" in body["message"]
    assert listen.allowances.usage("alice")["allowances"]["transcriptions"]["used"] == 1


def test_the_maps_api_spends_the_monthly_allowance_of_the_callers_plan(
        billing_api: Any, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from soundcanvas.library.tracks import TrackStore
    from tests.unit.blend.conftest import moto_state_machine

    moto_state_machine(monkeypatch, "MapStateMachine", "MAP_STATE_MACHINE_ARN")
    monkeypatch.setenv("FREE_MAPS_PER_MONTH", "1")
    monkeypatch.setenv("PRO_MAPS_PER_MONTH", "2")
    maps = load_function("maps_api")
    tracks = TrackStore(aws["tracks_table"], REGION)
    key = "library/alice/t1/original.mp3"
    aws["s3"].put_object(Bucket=aws["bucket"], Key=key, Body=b"ID3 audio bytes")
    tracks.model("alice", "t1", createdAt="2026-11-30T00:00:00.000Z", updatedAt="2026-11-30T00:00:00.000Z",
                 status="READY", source="upload", fileName="groove.mp3", originalKey=key, format="mp3",
                 version="v1", name="Groove", durationSeconds=30.0).save()
    make = event("POST", "/maps", body={"trackId": "t1"})
    assert call(maps, make)[0] == 202
    status, body = call(maps, make)
    assert status == 429 and "1 maps per month" in body["message"]
    assert "the free plan includes 1 maps a month; upgrade to pro with POST /billing/checkout" in body["message"]
    assert len(maps.store.list("alice", limit=10, cursor=None)[0]) == 1  # the refused request made nothing
    send(billing_api, checkout_completed("alice"))
    assert call(maps, make)[0] == 202
    assert call(maps, make)[0] == 429
