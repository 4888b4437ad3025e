"""Notifications: what a user is told when something of theirs changes (a drum map finished or failed,
an edit decided, a role changed), in the app and by e-mail through Amazon SES.

Every notification is written to NotificationsTable first: the in-app record is what counts. Then, unless the
user opted out (`emailNotifications` false on their UsersTable item) or no address is known, it is e-mailed
with SES v2 `SendEmail` from the stack's verified sender, under its configuration set. A failed e-mail is
logged and counted (`NotificationEmailsFailed`), never raised: the caller's work (a map made COMPLETE, say)
does not fail because a mail server said no.

NotificationsTable: partition key `userId`, sort key `notificationId` = `{createdAt}#{12 hex}`, so a
partition reads newest first and two notifications of one millisecond still differ; items expire
(`expiresAt`, TTL) after RETENTION_DAYS. An unread item carries `unreadBy` (= userId), the key of the
sparse `Unread` index: the unread count and `?unread=true` read only unread items; marking one read removes it.

The address: API Gateway's authorizer passes the ID token's `email` claim (`soundcanvas.core.api.caller_email`).
A workflow step has no token, so the API functions remember the last address they saw on the user's
UsersTable item (`email`), and a step reads it from there. That item is shared by several products' stores;
`ContactStore` declares only `email` and `emailNotifications` and writes them with UpdateItem actions,
never a whole-item put (docs/architecture.md, "Seams").
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import botocore.session
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from soundcanvas.core import cursors
from soundcanvas.core.records import as_dict, bind, delete_partition, now_iso, update_if
from soundcanvas.core.settings import ConfigError, Settings

logger = Logger(child=True)

KINDS = ("map-finished", "map-failed", "edit-decided", "role-changed")
RETENTION_DAYS = 90
UNREAD_COUNT_MAX = 1000  # the unread count reads at most this many items; a client shows "999+"
MARK_ALL_MAX = 1000  # one "mark all read" request marks at most this many (the rest on the next call)
ID_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#[0-9a-f]{12}$"
EMAIL_MAX = 254  # RFC 5321's limit for a forward path
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FOOTER = ("\n\n--\nSoundCanvas. You get this e-mail because e-mail notifications are on for your account; "
          "turn them off with PUT /me/preferences {\"emailNotifications\": false}. "
          "Every notification is also listed in the app (GET /me/notifications).")

# What notify() says happened to the e-mail.
SENT, OPTED_OUT, NO_ADDRESS, NO_SENDER, FAILED = "sent", "opted-out", "no-address", "no-sender", "failed"


def usable_email(value: Any) -> str | None:
    """The address if it can be mailed (one @, a dotted domain, no spaces or control characters, at most
    254 characters), else None."""
    if not isinstance(value, str):
        return None
    address = value.strip()
    if not address or len(address) > EMAIL_MAX or not address.isprintable() or not _EMAIL_RE.match(address):
        return None
    return address


# ------------------------------------------------------------------------------------ in-app records
@lru_cache(maxsize=8)
def _notification_class(table_name: str, region: str, host: str | None) -> Any:
    class Unread(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "Unread"
            projection = AllProjection()

        unreadBy = UnicodeAttribute(hash_key=True)
        notificationId = UnicodeAttribute(range_key=True)

    class Notification(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        notificationId = UnicodeAttribute(range_key=True)  # {createdAt}#{random}: sorts by time
        kind = UnicodeAttribute()
        subject = UnicodeAttribute()
        text = UnicodeAttribute()
        entity = MapAttribute[str, Any](null=True)  # {"kind": "map" | "edit" | ..., "id": ...}
        createdAt = UnicodeAttribute()
        readAt = UnicodeAttribute(null=True)
        unreadBy = UnicodeAttribute(null=True)  # the user while unread: the sparse Unread index's key
        expiresAt = NumberAttribute()
        unread = Unread()

    return bind(Notification, table_name, region, host)


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    """A notification as the API shows it."""
    return {
        "notificationId": record["notificationId"],
        "kind": record["kind"],
        "subject": record["subject"],
        "text": record["text"],
        "entity": record.get("entity"),
        "createdAt": record["createdAt"],
        "readAt": record.get("readAt"),
        "read": record.get("readAt") is not None,
    }


class NotificationStore:
    """A user's in-app notifications in NotificationsTable: add, page newest first, count and mark unread ones."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None, clock: Any = time.time,
                 retention_days: int = RETENTION_DAYS) -> None:
        self.model: Any = _notification_class(table_name, region, host)
        self.clock = clock
        self.retention_seconds = retention_days * 86400

    def add(self, user_id: str, *, kind: str, subject: str, text: str, entity: dict[str, Any] | None) -> dict[str, Any]:
        """Write a new unread notification; returns it as stored."""
        now = self.clock()
        created = now_iso(now)
        record = self.model(user_id, f"{created}#{secrets.token_hex(6)}", kind=kind, subject=subject, text=text,
                            entity=entity, createdAt=created, unreadBy=user_id,
                            expiresAt=int(now + self.retention_seconds))
        record.save(condition=self.model.notificationId.does_not_exist())
        return as_dict(record)

    def list(self, user_id: str, *, limit: int, cursor: str | None,
             unread_only: bool = False) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's notifications (only unread ones if asked), newest first, and the next cursor."""
        m = self.model
        source = m.unread if unread_only else m
        key_types = {"userId": "S", "notificationId": "S", **({"unreadBy": "S"} if unread_only else {})}
        start_key = cursors.decode(user_id, cursor, key_types) if cursor else None
        results = source.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=start_key,
                               filter_condition=m.expiresAt > int(self.clock()))
        items = [as_dict(r) for r in results]
        last = results.last_evaluated_key
        return items, (cursors.encode(last) if last else None)

    def unread_count(self, user_id: str) -> int:
        """How many unread notifications the user has (at most UNREAD_COUNT_MAX): a Query of the Unread index."""
        m = self.model
        return int(m.unread.count(user_id, filter_condition=m.expiresAt > int(self.clock()), limit=UNREAD_COUNT_MAX))

    def mark_read(self, user_id: str, ids: Sequence[str] | None = None) -> int:
        """Mark the given notifications (None: every unread one, up to MARK_ALL_MAX) read; returns how many
        changed. Ids that are not the user's, or already read, change nothing."""
        m = self.model
        if ids is None:
            ids = [r.notificationId for r in m.unread.query(user_id, limit=MARK_ALL_MAX,
                                                            attributes_to_get=["userId", "notificationId"])]
        read_at = now_iso(self.clock())
        marked = 0
        for notification_id in dict.fromkeys(ids):
            if not update_if(m(user_id, notification_id), [m.readAt.set(read_at), m.unreadBy.remove()], m.unreadBy.exists()):
                continue
            marked += 1
        return marked

    def all_records(self, user_id: str) -> Iterator[dict[str, Any]]:
        """Every notification of the user that has not expired, newest first (for an account export)."""
        now = int(self.clock())
        return (as_dict(r) for r in self.model.query(user_id, scan_index_forward=False) if r.expiresAt > now)

    def delete_all(self, user_id: str) -> int:
        """Delete every notification of the user, expired ones too (account erase); returns how many."""
        return delete_partition(self.model, user_id)


# ------------------------------------------------------------------------------------ the user's address
@lru_cache(maxsize=8)
def _contact_class(table_name: str, region: str, host: str | None) -> Any:
    class NotificationContact(Model):
        class Meta:
            pass

        userId = UnicodeAttribute(hash_key=True)
        email = UnicodeAttribute(null=True)
        emailNotifications = BooleanAttribute(null=True)  # absent: on

    return bind(NotificationContact, table_name, region, host)


@dataclass(frozen=True)
class Contact:
    email: str | None
    email_notifications: bool


class ContactStore:
    """The last e-mail address seen for a user and their e-mail opt-out, on the user's UsersTable item
    (only these two attributes, each written with an UpdateItem action)."""

    def __init__(self, table_name: str, region: str, *, host: str | None = None) -> None:
        self.model: Any = _contact_class(table_name, region, host)

    def get(self, user_id: str) -> Contact:
        try:
            record = self.model.get(user_id, consistent_read=True, attributes_to_get=["email", "emailNotifications"])
        except self.model.DoesNotExist:
            return Contact(None, True)
        return Contact(usable_email(record.email), record.emailNotifications is not False)

    def remember_email(self, user_id: str, email: str) -> None:
        """Keep `email` as the user's address (one UpdateItem; the item is created if there is none)."""
        self.model(user_id).update(actions=[self.model.email.set(email)])

    def set_email_notifications(self, user_id: str, enabled: bool) -> bool:
        """Turn the user's notification e-mails on or off; returns the setting."""
        self.model(user_id).update(actions=[self.model.emailNotifications.set(enabled)])
        return enabled


# ------------------------------------------------------------------------------------ e-mail
class Mailer:
    """Plain-text e-mail through SES v2 SendEmail, from the stack's verified sender, under its configuration set."""

    def __init__(self, client: Any, sender: str, configuration_set: str | None = None) -> None:
        self.client = client
        self.sender = sender
        self.configuration_set = configuration_set

    def send(self, to: str, subject: str, text: str) -> str:
        """Send one message; returns SES's message id (raises botocore errors)."""
        args: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Simple": {"Subject": {"Data": subject, "Charset": "UTF-8"},
                                   "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}}},
        }
        if self.configuration_set:
            args["ConfigurationSetName"] = self.configuration_set
        return str(self.client.send_email(**args)["MessageId"])


# ------------------------------------------------------------------------------------ the notifier
class Notifier:
    """What other code calls: `notify(user, kind=..., subject=..., text=..., entity=...)`, and
    `remember_email(user, address)` from the API functions that see the caller's token."""

    def __init__(self, store: NotificationStore, contacts: ContactStore, mailer: Mailer | None, *,
                 metrics: Any = None) -> None:
        self.store = store
        self.contacts = contacts
        self.mailer = mailer
        self.metrics = metrics  # Powertools Metrics of the calling function (None: not counted)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Any = time.time, metrics: Any = None,
                      aws: Any = None) -> Notifier:
        """A notifier for a function's settings: NOTIFICATIONS_TABLE_NAME and USERS_TABLE_NAME are required;
        without NOTIFICATION_SENDER notifications are in-app only. `aws`: the function's botocore session, whose
        loaded endpoint data the SES client then shares (a session of its own otherwise)."""
        missing = [name for name, value in (("NOTIFICATIONS_TABLE_NAME", settings.notifications_table_name),
                                            ("USERS_TABLE_NAME", settings.users_table_name)) if not value]
        if missing:
            raise ConfigError(f"missing environment variables: {', '.join(missing)}")
        host = settings.dynamodb_endpoint
        store = NotificationStore(settings.notifications_table_name, settings.region, host=host, clock=clock,
                                  retention_days=settings.notification_retention_days)
        contacts = ContactStore(settings.users_table_name, settings.region, host=host)
        mailer = None
        if settings.notification_sender:
            client = (aws or botocore.session.Session()).create_client("sesv2", region_name=settings.region)
            mailer = Mailer(client, settings.notification_sender, settings.ses_configuration_set or None)
        return cls(store, contacts, mailer, metrics=metrics)

    def notify(self, user_id: str, *, kind: str, subject: str, text: str,
               entity: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the in-app notification (raises if that fails), then e-mail it unless the user opted out or
        has no known address (never raises); returns {"notification": ..., "email": "sent" | "opted-out" |
        "no-address" | "no-sender" | "failed"}."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}; one of {', '.join(KINDS)}")
        if entity is not None and not (isinstance(entity.get("kind"), str) and isinstance(entity.get("id"), str)):
            raise ValueError("entity must be {\"kind\": str, \"id\": str}")
        subject = " ".join(subject.split())  # one line: no header folding from a title with newlines
        record = self.store.add(user_id, kind=kind, subject=subject, text=text, entity=entity)
        email = self._email(user_id, subject, text, kind)
        self._count("NotificationsSent")
        logger.info("notified", extra={"kind": kind, "notification_id": record["notificationId"], "email": email})
        return {"notification": public_view(record), "email": email}

    def try_notify(self, user_id: str, *, kind: str, subject: str, text: str,
                   entity: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """`notify` for a workflow step whose own work is done (a map already COMPLETE): a failed in-app write
        is logged and counted (`NotificationsFailed`) and None returned, so the step does not fail after the fact."""
        try:
            return self.notify(user_id, kind=kind, subject=subject, text=text, entity=entity)
        except (PynamoDBException, ClientError, BotoCoreError) as exc:
            logger.warning("notification not written", extra={"kind": kind, "reason": type(exc).__name__})
            self._count("NotificationsFailed")
            return None

    def _email(self, user_id: str, subject: str, text: str, kind: str) -> str:
        if self.mailer is None:
            return NO_SENDER
        try:
            contact = self.contacts.get(user_id)
            if not contact.email_notifications:
                return OPTED_OUT
            if contact.email is None:
                return NO_ADDRESS
            self.mailer.send(contact.email, subject, text + FOOTER)
        except (ClientError, BotoCoreError, PynamoDBException) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
            logger.warning("notification e-mail not sent", extra={"kind": kind, "reason": code})
            self._count("NotificationEmailsFailed")
            return FAILED
        self._count("NotificationEmailsSent")
        return SENT

    def remember_email(self, user_id: str, email: str | None) -> bool:
        """Keep the caller's address for later e-mails (a workflow step has no token to read it from);
        False when there is no usable address."""
        address = usable_email(email)
        if address is None:
            return False
        self.contacts.remember_email(user_id, address)
        return True

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
