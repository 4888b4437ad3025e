"""Paid plans end to end: Stripe's signed webhook over real HTTP (no token: the signature is the proof),
the plan it gives, the larger monthly allowance honoured by the Listen API, and Checkout without Stripe.

The local stack keeps a random `whsec_...` webhook secret in Secrets Manager (moto, through its
endpoint) and hands it to the tests as `stack.stripe_webhook_secret`; events are signed with it as
Stripe signs them (the stripe library's `generate_signature_header`)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests
import stripe

from local_stack.stack import LocalStack

pytestmark = pytest.mark.e2e


def _user(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _checkout_completed(user: str) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:12]
    return {"id": f"evt_e2e{suffix}", "object": "event", "type": "checkout.session.completed",
            "created": int(time.time()), "livemode": False,
            "data": {"object": {"id": f"cs_test_{suffix}", "object": "checkout.session", "mode": "subscription",
                                "status": "complete", "payment_status": "paid", "client_reference_id": user,
                                "customer": f"cus_{suffix}", "subscription": f"sub_{suffix}"}}}


def _deliver(stack: LocalStack, payload: str, signature: str) -> requests.Response:
    """POST the raw payload as Stripe does: no Authorization header, the signature in Stripe-Signature."""
    return requests.post(f"{stack.api_url}/billing/webhook", data=payload.encode(), timeout=30,
                         headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature})


def _signed(stack: LocalStack, event: dict[str, Any]) -> tuple[str, str]:
    payload = json.dumps(event)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, stack.stripe_webhook_secret)


def _session(stack: LocalStack, user: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.token(user)}"
    return session


def _plan(stack: LocalStack, user: str) -> dict[str, Any]:
    response = _session(stack, user).get(f"{stack.api_url}/billing/plan", timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_signed_checkout_makes_the_user_pro_once(stack: LocalStack) -> None:
    user = _user("payer")
    before = _plan(stack, user)
    assert before["plan"] == "free"
    payload, signature = _signed(stack, _checkout_completed(user))
    response = _deliver(stack, payload, signature)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False, "outcome": "applied"}
    after = _plan(stack, user)
    assert after["plan"] == "pro" and after["status"] == "active"
    assert after["allowances"]["transcriptions"]["limit"] > before["allowances"]["transcriptions"]["limit"]
    assert after["allowances"]["maps"]["limit"] > before["allowances"]["maps"]["limit"]
    again = _deliver(stack, payload, signature)  # Stripe retries a delivery it thinks failed
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_a_tampered_or_unsigned_webhook_is_400_and_changes_nothing(stack: LocalStack) -> None:
    user, intruder = _user("victim"), _user("intruder")
    payload, signature = _signed(stack, _checkout_completed(user))
    tampered = payload.replace(user, intruder)
    for body, header in ((tampered, signature), (payload, ""), (payload, signature.replace("v1=", "v1=0"))):
        response = _deliver(stack, body, header)
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith("webhook signature verification failed")
    stale = stripe.WebhookSignature.generate_signature_header(payload, stack.stripe_webhook_secret,
                                                              timestamp=int(time.time()) - 301)
    assert _deliver(stack, payload, stale).status_code == 400
    assert _plan(stack, user)["plan"] == "free" and _plan(stack, intruder)["plan"] == "free"


def test_the_pro_plan_allowance_is_honoured_where_the_free_one_is_used_up(stack: LocalStack) -> None:
    """Two users who have each made as many transcriptions this month as the free plan includes (their month's
    counter is filled in the stack's QuotasTable first: the API's hourly rate quota would otherwise take a day
    of real time to get there over HTTP). The free one is refused with the plan and the way up; the one whose
    checkout Stripe reported goes on."""
    from soundcanvas.core.quotas import Quota, QuotaStore

    free_user, pro_user = _user("free"), _user("pro")
    limit = _plan(stack, free_user)["allowances"]["transcriptions"]["limit"]
    quotas = QuotaStore(stack.template.names["QuotasTable"], "us-east-1", host=stack.endpoint, clock=stack.clock)
    for user in (free_user, pro_user):
        quotas.take(user, Quota("transcriptions", limit, monthly=True), limit)
        assert _plan(stack, user)["allowances"]["transcriptions"]["left"] == 0
    assert _deliver(stack, *_signed(stack, _checkout_completed(pro_user))).status_code == 200

    refused = _session(stack, free_user).post(f"{stack.api_url}/transcriptions", json={}, timeout=30)
    assert refused.status_code == 429, refused.text
    message = refused.json()["message"]
    assert f"{limit} transcriptions per month" in message and "the free plan" in message
    assert "upgrade to pro with POST /billing/checkout" in message
    assert 0 < int(refused.headers["Retry-After"]) <= 31 * 86400

    allowed = _session(stack, pro_user).post(f"{stack.api_url}/transcriptions", json={}, timeout=30)
    assert allowed.status_code == 201, allowed.text
    counted = _plan(stack, pro_user)["allowances"]["transcriptions"]
    assert counted["used"] == limit + 1 and counted["left"] == counted["limit"] - limit - 1


def test_checkout_without_a_stripe_key_is_503(stack: LocalStack) -> None:
    response = _session(stack, _user("shopper")).post(f"{stack.api_url}/billing/checkout", timeout=30)
    assert response.status_code == 503
    assert response.json()["message"].startswith("billing is not configured")
    assert requests.post(f"{stack.api_url}/billing/checkout", timeout=30).status_code == 401  # no token
