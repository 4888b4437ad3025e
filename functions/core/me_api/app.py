"""Me API ("your account"): the caller's summary, notifications and preferences.

- `GET /me`: the caller's plan and this month's allowances (soundcanvas.core.entitlements), their community
  standing (karma, role, what is left of today's edits and votes; soundcanvas.maps.karma, a seam:
  docs/architecture.md) and their unread notifications.

- `GET /me/notifications?unread=&limit=&cursor=`: the caller's notifications, newest first, with the unread
  count and the next page's cursor (soundcanvas.core.notifications).
- `POST /me/notifications/read` `{ids: [...]}` or `{all: true}`: mark them read; answers how many changed
  and the unread count left.
- `GET /me/preferences`, `PUT /me/preferences`: Listen's preferences (guitar tuning, notation, difficulty),
  with Listen's fields and rules (soundcanvas.listen.preferences, a seam: docs/architecture.md), and core's
  `emailNotifications` (on unless turned off; notifications are listed in the app either way).

Every route remembers the e-mail address of the caller's token on their UsersTable item: a workflow step
that notifies them later has no token to read it from.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from soundcanvas.core import api
from soundcanvas.core.entitlements import Allowances
from soundcanvas.core.notifications import ID_PATTERN, Notifier, public_view
from soundcanvas.core.quotas import Quota
from soundcanvas.core.records import now_iso
from soundcanvas.core.settings import Settings
from soundcanvas.listen.preferences import PreferenceFields, PreferencesStore  # the seam: Listen's preferences
from soundcanvas.maps import karma  # the seam: the caller's community standing

logger = Logger()
metrics = Metrics()
settings = Settings.from_env(need=("USERS_TABLE_NAME", "NOTIFICATIONS_TABLE_NAME", "QUOTAS_TABLE_NAME",
                                   "COMMUNITY_TABLE_NAME"))
clock = time.time  # the local stack sets its own clock here
notifier = Notifier.from_settings(settings, clock=lambda: clock(), metrics=metrics)
allowances = Allowances.from_settings(settings, clock=lambda: clock())
karma_store = karma.KarmaStore(settings.community_table_name, settings.region, host=settings.dynamodb_endpoint,
                               clock=lambda: clock())
listen_preferences = PreferencesStore(settings.users_table_name, settings.region, host=settings.dynamodb_endpoint)
MARK_IDS_MAX = 100

app = api.resolver()

NotificationId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class PreferencesRequest(PreferenceFields):
    """Body of PUT /me/preferences: the preferences to change (null resets one to its default)."""

    emailNotifications: StrictBool | None = Field(
        default=None, description="E-mail each notification to the address of your sign-in (default true).")


class ReadRequest(BaseModel):
    """Body of POST /me/notifications/read: the notifications to mark read, or all of them."""

    model_config = ConfigDict(extra="forbid")
    ids: list[NotificationId] | None = Field(default=None, min_length=1, max_length=MARK_IDS_MAX,
                                             description="notificationId values from GET /me/notifications.")
    all: Literal[True] | None = Field(default=None, description="true: every unread notification.")

    @model_validator(mode="after")
    def _one_of(self) -> ReadRequest:
        if (self.ids is None) == (self.all is None):
            raise ValueError("give either ids or all: true")
        return self


def _caller() -> str:
    """The caller; their token's e-mail address is kept for the notifications a workflow sends later."""
    user_id = api.caller(app)
    notifier.remember_email(user_id, api.caller_email(app))
    return user_id


# --- the account's summary -----------------------------------------------------------------------
def _limit(user_id: str, quota: Quota) -> dict[str, Any]:
    used, renews = allowances.quotas.used(user_id, quota)
    return {"limit": quota.limit, "used": used, "left": max(0, quota.limit - used), "renewsAt": now_iso(renews)}


@app.get("/me")
def me() -> dict[str, Any]:
    """Who you are to SoundCanvas: your plan and its monthly allowances, your karma and role in the maps
    community with what is left of today's edits and votes, and how many notifications you have not read."""
    user_id = _caller()
    now = clock()
    standing = karma_store.standing(user_id, api.caller_groups(app), touch=False)  # only community routes start the age
    role = standing.role(now)
    community = {
        "karma": standing.karma,
        "role": role,
        "accountAgeDays": int((now - standing.first_seen_at) // 86400),
        "suspendedUntil": now_iso(standing.suspended_until) if standing.suspended(now) else None,
        "limits": {"edits": _limit(user_id, karma.edit_quota(role)),
                   "votes": _limit(user_id, karma.VOTE_QUOTA) if karma.may_vote(role) else None},
    }
    return {"userId": user_id, "email": api.caller_email(app), **allowances.usage(user_id),
            "community": community, "unreadNotifications": notifier.store.unread_count(user_id)}



# --- notifications -------------------------------------------------------------------------------
@app.get("/me/notifications")
def list_notifications(
    unread: Annotated[bool, Query(description="true: only unread notifications")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    user_id = _caller()
    items, next_cursor = notifier.store.list(user_id, limit=limit, cursor=cursor, unread_only=unread)
    return {"items": [public_view(item) for item in items], "unreadCount": notifier.store.unread_count(user_id),
            "nextCursor": next_cursor}


@app.post("/me/notifications/read")
def mark_notifications_read(body: ReadRequest) -> dict[str, Any]:
    user_id = _caller()
    marked = notifier.store.mark_read(user_id, None if body.all else list(body.ids or ()))
    return {"marked": marked, "unreadCount": notifier.store.unread_count(user_id)}


# --- preferences ---------------------------------------------------------------------------------
def _preferences(user_id: str, listen: dict[str, Any]) -> dict[str, Any]:
    return {**listen, "emailNotifications": notifier.contacts.get(user_id).email_notifications}


@app.get("/me/preferences")
def get_preferences() -> dict[str, Any]:
    user_id = _caller()
    return _preferences(user_id, listen_preferences.get(user_id))


@app.put("/me/preferences")
def put_preferences(body: PreferencesRequest) -> dict[str, Any]:
    user_id = _caller()
    changes = body.model_dump(include=body.model_fields_set)
    if "emailNotifications" in changes:
        enabled = changes.pop("emailNotifications")
        notifier.contacts.set_email_notifications(user_id, True if enabled is None else enabled)
    return _preferences(user_id, listen_preferences.update(user_id, changes))


api.install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return api.resolve(app, event, context)
