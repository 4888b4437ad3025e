"""Billing API: Stripe's webhook, a Checkout session for the pro plan, and the caller's plan.

- `POST /billing/webhook` (no token: Stripe signs each event). The `Stripe-Signature` header is checked
  on the raw body (base64-decoded first when API Gateway hands it over encoded) with the stripe
  library, at most 300 s old, before anything parses the JSON: a bad, missing or expired signature is
  a 400 that changes nothing. A verified event is applied once, in order (soundcanvas.core.billing)
  and answered `200 {received, duplicate, outcome}`; an event type we do not use is recorded and ignored.
- `POST /billing/checkout`: a Stripe Checkout session (mode subscription, the pro plan's price) whose
  `client_reference_id` and subscription metadata carry the caller, so the webhook knows whose plan
  it pays for; `201 {checkoutUrl, sessionId}`. 503 when the stack has no Stripe API key or price.
- `GET /billing/plan`: the caller's plan and this month's allowances (limit, used, left, renewsAt).

The webhook signing secret and the API key are read from Secrets Manager (the secrets named by the
StripeWebhookSecretName and StripeApiKeySecretName parameters) on first use and kept five minutes,
never logged. The stripe library is imported on first use too: it costs ~170 ms, which GET
/billing/plan need not pay on a cold start.
"""

from __future__ import annotations

import base64
import binascii
import time
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from soundcanvas.core import api
from soundcanvas.core.billing import PRO_STATUSES, BadEvent, Billing, BillingStore
from soundcanvas.core.entitlements import PRO, Allowances
from soundcanvas.core.settings import Settings

logger = Logger()
metrics = Metrics()
settings = Settings.from_env(need=("USERS_TABLE_NAME", "QUOTAS_TABLE_NAME", "BILLING_TABLE_NAME"))
clock = time.time  # the local stack sets its own clock here
allowances = Allowances.from_settings(settings, clock=lambda: clock())
billing = Billing(BillingStore(settings.billing_table_name, settings.region, host=settings.dynamodb_endpoint,
                               clock=lambda: clock()), allowances.entitlements)
SIGNATURE_TOLERANCE_SECONDS = 300  # Stripe's own default: a replay of an older signed delivery is refused
SECRET_CACHE_SECONDS = 300  # a rotated secret is picked up within five minutes
NOT_CONFIGURED = "billing is not configured on this stack"

app = api.resolver()
# What tools/openapi.py publishes for the body the webhook reads itself (checkout reads none), and its own answers.
OPENAPI_BODIES = {"/billing/webhook": {"application/json": {
    "title": "StripeEvent",
    "description": "A Stripe event (https://docs.stripe.com/api/events/object) exactly as Stripe sends it, signed in "
                   "the Stripe-Signature header: the signature is checked on the raw body (at most "
                   f"{SIGNATURE_TOLERANCE_SECONDS} s old) before the JSON is read. Applied once, in order; a type "
                   "the billing rules do not use is recorded and ignored.",
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "type": {"type": "string", "description": "checkout.session.completed, customer.subscription.created, "
                                                  "updated or deleted and invoice.payment_failed change a plan."},
        "created": {"type": "integer"},
        "data": {"type": "object", "properties": {"object": {"type": "object"}}, "required": ["object"]},
    },
    "required": ["id", "type", "created", "data"],
}}}
OPENAPI_ERRORS = {"/billing/webhook": {
    "400": "The delivery is refused and nothing changes: the Stripe-Signature header is missing, does not match the "
           f"raw body or is over {SIGNATURE_TOLERANCE_SECONDS} s old, or the signed body is not a Stripe event (id, "
           "type, created, data.object); `message` says which. A body nested over 32 levels or holding a number of over "
           "40 digits is refused before it is read (core/api.py resolve; `errors` names the field body).",
    "415": None,  # the signature is checked on whatever Stripe sent; no body type is refused
}}
_secrets: dict[str, tuple[str, float]] = {}


class NotConfigured(Exception):
    """A Stripe setting this route needs is missing (503)."""


class BadSignature(ValueError):
    """The delivery cannot be shown to come from Stripe (400, nothing changed)."""


class AlreadyPro(Exception):
    """The caller already pays for the pro plan (409)."""


class StripeFailed(Exception):
    """Stripe's API refused or could not be reached (502)."""


@cache
def _stripe() -> Any:
    import stripe  # imported on first use: ~170 ms of a cold start otherwise

    return stripe


@cache
def _secrets_manager() -> Any:
    import botocore.session  # here: only a webhook or checkout reads the secrets

    return botocore.session.Session().create_client("secretsmanager", region_name=settings.region)


def _secret(name: str, what: str) -> str:
    """The value of a Secrets Manager secret (cached SECRET_CACHE_SECONDS); NotConfigured when unnamed or empty."""
    if not name:
        raise NotConfigured(f"{NOT_CONFIGURED}: no {what}")
    cached = _secrets.get(name)
    if cached and time.monotonic() - cached[1] < SECRET_CACHE_SECONDS:
        return cached[0]
    value = str(_secrets_manager().get_secret_value(SecretId=name).get("SecretString") or "").strip()
    if not value:
        raise NotConfigured(f"{NOT_CONFIGURED}: the secret holding the {what} is empty")
    _secrets[name] = (value, time.monotonic())
    return value


def _raw_body() -> bytes:
    """The request body exactly as Stripe sent it (API Gateway may have base64-encoded it)."""
    event = app.current_event
    body = event.raw_event.get("body") or ""
    if event.raw_event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadSignature("the body is not valid base64") from exc
    return body.encode("utf-8")


def _verified_event(payload: bytes) -> dict[str, Any]:
    """The event, once its Stripe-Signature has been checked against the raw payload."""
    header = app.current_event.headers.get("stripe-signature")
    if not header:
        raise BadSignature("the Stripe-Signature header is missing")
    secret = _secret(settings.stripe_webhook_secret_name, "webhook signing secret (StripeWebhookSecretName)")
    stripe = _stripe()
    try:
        event = stripe.Webhook.construct_event(payload, header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc.user_message or exc)) from exc
    except ValueError as exc:  # signed, but not UTF-8 JSON
        raise BadSignature("the body is not a JSON Stripe event") from exc
    data = event.to_dict()
    return data if isinstance(data, dict) else {}


@app.post("/billing/webhook")
def webhook() -> Response[dict[str, Any]]:
    event = _verified_event(_raw_body())
    result = billing.handle(event)
    logger.info("stripe event", extra={"eventId": event.get("id"), "eventType": event.get("type"),
                                       "outcome": result.outcome, "duplicate": result.duplicate})
    metrics.add_metric(name="StripeEventsDuplicate" if result.duplicate else "StripeEventsHandled",
                       unit=MetricUnit.Count, value=1)
    return Response(200, "application/json",
                    {"received": True, "duplicate": result.duplicate, "outcome": result.outcome})


@app.post("/billing/checkout")
def checkout() -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    missing = [name for name, value in (("StripeApiKeySecretName", settings.stripe_api_key_secret_name),
                                        ("StripePriceId", settings.stripe_price_id),
                                        ("BillingSuccessUrl", settings.billing_success_url),
                                        ("BillingCancelUrl", settings.billing_cancel_url)) if not value]
    if missing:
        raise NotConfigured(f"{NOT_CONFIGURED}: {', '.join(missing)} not set")
    api_key = _secret(settings.stripe_api_key_secret_name, "Stripe API key (StripeApiKeySecretName)")
    current = allowances.entitlements.get(user_id)
    if current["plan"] == PRO and current["planStatus"] in PRO_STATUSES:
        raise AlreadyPro(f"you are on the pro plan already ({current['planStatus']})")
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": settings.stripe_price_id, "quantity": 1}],
        "client_reference_id": user_id,
        "subscription_data": {"metadata": {"userId": user_id}},
        "metadata": {"userId": user_id},
        "success_url": settings.billing_success_url,
        "cancel_url": settings.billing_cancel_url,
    }
    if current["stripeCustomerId"]:
        params["customer"] = current["stripeCustomerId"]  # a returning customer keeps their card and invoices
    stripe = _stripe()
    try:
        session = stripe.checkout.Session.create(api_key=api_key, **params)
    except stripe.StripeError as exc:
        logger.warning("stripe refused a checkout session", extra={"error": type(exc).__name__})
        raise StripeFailed(f"Stripe refused to create a checkout session: {exc.user_message or type(exc).__name__}") \
            from exc
    metrics.add_metric(name="CheckoutSessionsCreated", unit=MetricUnit.Count, value=1)
    return Response(201, "application/json", {"checkoutUrl": session.url, "sessionId": session.id})


@app.get("/billing/plan")
def plan() -> Response[dict[str, Any]]:
    user_id = api.caller(app)
    usage = allowances.usage(user_id)
    status = allowances.entitlements.get(user_id)["planStatus"]
    return Response(200, "application/json", {**usage, "status": status})


api.install_error_handlers(app, conflict=(AlreadyPro,))


@app.exception_handler(BadSignature)
def _bad_signature(exc: BadSignature) -> Response:
    logger.warning("webhook refused", extra={"reason": str(exc)})
    return api.error(400, f"webhook signature verification failed: {exc}")


@app.exception_handler(BadEvent)
def _bad_event(exc: BadEvent) -> Response:
    return api.error(400, str(exc))


@app.exception_handler(StripeFailed)
def _stripe_failed(exc: StripeFailed) -> Response:
    return api.error(502, str(exc))


@app.exception_handler(NotConfigured)
def _not_configured(exc: NotConfigured) -> Response:
    return api.error(503, f"{exc}; see docs/billing.md")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
