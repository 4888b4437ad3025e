"""soundcanvas.core.notifications against moto (NotificationsTable and UsersTable from template.yaml, SES's
identity and configuration set as the template declares them): the in-app record always, the e-mail unless
opted out or no address is known, e-mail failures counted and never raised, paging, unread counts, marking read,
export and erase; and the authorizer's context that carries the token's address and groups."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local_stack.template import LocalTemplate
from soundcanvas.core import cursors
from soundcanvas.core.notifications import (
    FOOTER,
    ContactStore,
    Mailer,
    NotificationStore,
    Notifier,
    usable_email,
)
from tests.conftest import ManualClock, load_function

REGION = "us-east-1"
MAP = {"kind": "map", "id": "m1"}


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture
def ses(aws: dict[str, Any], sam_template: LocalTemplate) -> dict[str, str]:
    """The sender identity and configuration set the template declares, created in moto (SES refuses an
    unverified sender); what a notifying function's environment names."""
    client = boto3.client("sesv2", region_name=REGION)
    (identity,) = sam_template.email_identities.values()
    client.create_email_identity(EmailIdentity=identity["EmailIdentity"])
    (config_set,) = sam_template.configuration_sets
    client.create_configuration_set(ConfigurationSetName=sam_template.names[config_set])
    env = sam_template.functions["MapLevelsFunction"].environment
    return {"sender": env["NOTIFICATION_SENDER"], "configuration_set": env["SES_CONFIGURATION_SET"],
            "table": env["NOTIFICATIONS_TABLE_NAME"], "users_table": aws["users_table"]}


@pytest.fixture
def store(ses: dict[str, str], clock: ManualClock) -> NotificationStore:
    return NotificationStore(ses["table"], REGION, clock=clock)


@pytest.fixture
def contacts(ses: dict[str, str]) -> ContactStore:
    return ContactStore(ses["users_table"], REGION)


@pytest.fixture
def metrics() -> mock.Mock:
    return mock.Mock()


@pytest.fixture
def notifier(ses: dict[str, str], store: NotificationStore, contacts: ContactStore, metrics: mock.Mock) -> Notifier:
    mailer = Mailer(boto3.client("sesv2", region_name=REGION), ses["sender"], ses["configuration_set"])
    return Notifier(store, contacts, mailer, metrics=metrics)


def counted(metrics: mock.Mock) -> list[str]:
    return [c.kwargs["name"] for c in metrics.add_metric.call_args_list]


def test_the_template_names_the_notifying_functions_environment(sam_template: LocalTemplate) -> None:
    for function in ("MapLevelsFunction", "MapFailedFunction"):
        env = sam_template.functions[function].environment
        assert env["NOTIFICATIONS_TABLE_NAME"] == sam_template.names["NotificationsTable"]
        assert usable_email(env["NOTIFICATION_SENDER"]) == env["NOTIFICATION_SENDER"]
        assert env["SES_CONFIGURATION_SET"] == sam_template.names["NotificationConfigurationSet"]
    table = sam_template.tables["NotificationsTable"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_a_notification_is_kept_in_the_app_and_mailed_to_the_remembered_address(
        notifier: Notifier, ses: dict[str, str], metrics: mock.Mock) -> None:
    assert notifier.remember_email("alice", "alice@example.org")
    before = len(sent())
    with mock.patch.object(notifier.mailer.client, "send_email", wraps=notifier.mailer.client.send_email) as spy:  # type: ignore[union-attr]
        result = notifier.notify("alice", kind="map-finished", subject="Your drum map\nis ready",
                                 text="The map is ready.", entity=MAP)
    assert result["email"] == "sent"
    assert spy.call_args.kwargs["ConfigurationSetName"] == ses["configuration_set"]
    (message,) = sent()[before:]
    assert message.source == ses["sender"] and message.destinations == {"ToAddresses": ["alice@example.org"]}
    assert message.subject == "Your drum map is ready"  # one line
    assert message.body == "The map is ready." + FOOTER
    items, _ = notifier.store.list("alice", limit=10, cursor=None)
    assert [(i["notificationId"], i["kind"], i["entity"], i["readAt"]) for i in items] == [
        (result["notification"]["notificationId"], "map-finished", MAP, None)]
    assert counted(metrics) == ["NotificationEmailsSent", "NotificationsSent"]


def test_no_mail_when_opted_out_or_no_address_but_always_the_in_app_record(
        notifier: Notifier, contacts: ContactStore) -> None:
    before = len(sent())
    assert notifier.notify("bob", kind="map-failed", subject="s", text="t", entity=MAP)["email"] == "no-address"
    notifier.remember_email("bob", "bob@example.org")
    contacts.set_email_notifications("bob", False)
    assert notifier.notify("bob", kind="map-failed", subject="s", text="t", entity=MAP)["email"] == "opted-out"
    assert len(sent()) == before
    assert notifier.store.unread_count("bob") == 2
    contacts.set_email_notifications("bob", True)
    assert notifier.notify("bob", kind="map-failed", subject="s", text="t", entity=MAP)["email"] == "sent"
    assert len(sent()) == before + 1


def test_a_failed_email_is_counted_not_raised(notifier: Notifier, metrics: mock.Mock) -> None:
    notifier.remember_email("carol", "carol@example.org")
    notifier.mailer.sender = "someone@unverified.example"  # type: ignore[union-attr]  # SES refuses it
    before = len(sent())
    result = notifier.notify("carol", kind="role-changed", subject="s", text="t", entity=None)
    assert result["email"] == "failed" and len(sent()) == before
    assert notifier.store.unread_count("carol") == 1  # the in-app notification is the record
    assert "NotificationEmailsFailed" in counted(metrics)


def test_try_notify_counts_an_in_app_write_that_failed(ses: dict[str, str], contacts: ContactStore,
                                                       metrics: mock.Mock, clock: ManualClock) -> None:
    broken = Notifier(NotificationStore("no-such-table", REGION, clock=clock), contacts, None, metrics=metrics)
    with pytest.raises(Exception, match=r"no-such-table|ResourceNotFound|not found"):
        broken.notify("dave", kind="map-finished", subject="s", text="t", entity=MAP)
    assert broken.try_notify("dave", kind="map-finished", subject="s", text="t", entity=MAP) is None
    assert counted(metrics) == ["NotificationsFailed"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "party"}, "unknown notification kind"),
    ({"entity": {"kind": "map"}}, "entity must be"),
])
def test_unknown_kinds_and_entities_are_refused(notifier: Notifier, kwargs: dict[str, Any], message: str) -> None:
    args = {"kind": "map-finished", "subject": "s", "text": "t", "entity": MAP, **kwargs}
    with pytest.raises(ValueError, match=message):
        notifier.notify("alice", **args)
    assert notifier.store.unread_count("alice") == 0


def test_pages_newest_first_with_cursors_bound_to_the_user(store: NotificationStore, clock: ManualClock) -> None:
    made = []
    for i in range(5):
        clock.now += 1
        made.append(store.add("alice", kind="map-finished", subject=f"s{i}", text="t", entity=MAP)["notificationId"])
    store.add("bob", kind="map-finished", subject="bob's", text="t", entity=MAP)
    seen, cursor = [], None
    while True:
        items, cursor = store.list("alice", limit=2, cursor=cursor)
        seen += [i["notificationId"] for i in items]
        if cursor is None:
            break
        with pytest.raises(cursors.InvalidCursor):
            store.list("bob", limit=2, cursor=cursor)
        with pytest.raises(cursors.InvalidCursor):  # a cursor of all notifications does not page the unread ones
            store.list("alice", limit=2, cursor=cursor, unread_only=True)
    assert seen == made[::-1]


def test_unread_count_mark_read_and_the_unread_filter(store: NotificationStore, clock: ManualClock) -> None:
    ids = []
    for _ in range(4):
        clock.now += 1
        ids.append(store.add("alice", kind="edit-decided", subject="s", text="t", entity=None)["notificationId"])
    bobs = store.add("bob", kind="edit-decided", subject="s", text="t", entity=None)["notificationId"]
    assert store.unread_count("alice") == 4
    assert store.mark_read("alice", [ids[0], ids[1], ids[1], bobs, "2020-01-01T00:00:00.000Z#000000000000"]) == 2
    assert store.mark_read("alice", [ids[0]]) == 0  # already read
    assert store.unread_count("alice") == 2 and store.unread_count("bob") == 1
    unread, _ = store.list("alice", limit=10, cursor=None, unread_only=True)
    assert [i["notificationId"] for i in unread] == [ids[3], ids[2]]
    everything, _ = store.list("alice", limit=10, cursor=None)
    assert [i["readAt"] is not None for i in everything] == [False, False, True, True]
    assert store.mark_read("alice") == 2 and store.unread_count("alice") == 0
    assert store.unread_count("bob") == 1


def test_expired_notifications_are_not_read_and_erase_removes_them_all(
        store: NotificationStore, clock: ManualClock) -> None:
    store.add("alice", kind="map-finished", subject="old", text="t", entity=MAP)
    clock.now += 80 * 86400
    store.add("alice", kind="map-finished", subject="new", text="t", entity=MAP)
    clock.now += 11 * 86400  # the first is 91 days old: past the 90 days it is kept
    assert [i["subject"] for i in store.list("alice", limit=10, cursor=None)[0]] == ["new"]
    assert [r["subject"] for r in store.all_records("alice")] == ["new"]
    assert store.unread_count("alice") == 1
    assert store.delete_all("alice") == 2  # the expired one too
    assert store.list("alice", limit=10, cursor=None)[0] == []


def test_the_address_and_opt_out_are_written_without_touching_other_attributes(
        aws: dict[str, Any], contacts: ContactStore, notifier: Notifier) -> None:
    table = aws["users_table"]
    aws["dynamodb"].put_item(TableName=table, Item={"userId": {"S": "alice"}, "scheduler": {"S": "fsrs"}})
    assert contacts.get("alice").email is None and contacts.get("alice").email_notifications is True
    for unusable in (None, "", "not-an-address", "a b@example.org", "x@y", "a@b.co\r\nBcc", "a" * 250 + "@example.org"):
        assert not notifier.remember_email("alice", unusable)
    assert notifier.remember_email("alice", " alice@example.org ")
    contacts.set_email_notifications("alice", False)
    item = aws["dynamodb"].get_item(TableName=table, Key={"userId": {"S": "alice"}})["Item"]
    assert item == {"userId": {"S": "alice"}, "scheduler": {"S": "fsrs"}, "email": {"S": "alice@example.org"},
                    "emailNotifications": {"BOOL": False}}
    assert contacts.get("alice").email == "alice@example.org" and contacts.get("alice").email_notifications is False


def test_from_settings_needs_the_table_and_mails_only_with_a_sender(
        aws: dict[str, Any], ses: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from soundcanvas.core.settings import ConfigError, Settings

    monkeypatch.delenv("NOTIFICATIONS_TABLE_NAME", raising=False)
    monkeypatch.delenv("NOTIFICATION_SENDER", raising=False)
    with pytest.raises(ConfigError, match="NOTIFICATIONS_TABLE_NAME"):
        Notifier.from_settings(Settings.from_env())
    monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", ses["table"])
    assert Notifier.from_settings(Settings.from_env()).mailer is None
    monkeypatch.setenv("NOTIFICATION_SENDER", ses["sender"])
    monkeypatch.setenv("SES_CONFIGURATION_SET", ses["configuration_set"])
    mailer = Notifier.from_settings(Settings.from_env()).mailer
    assert mailer is not None and (mailer.sender, mailer.configuration_set) == (ses["sender"], ses["configuration_set"])


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TOKEN_ISSUER", "https://idp.example/pool")
    monkeypatch.setenv("TOKEN_AUDIENCE", "client")
    assert os.environ["TOKEN_ISSUER"]
    return load_function("authorizer")


@pytest.mark.parametrize(("claims", "email", "groups"), [
    ({"email": "ann@example.org", "email_verified": True, "cognito:groups": ["mappers", "moderators"]},
     "ann@example.org", "mappers,moderators"),
    ({"email": "ann@example.org", "email_verified": False}, "", ""),  # never mail an address the pool did not verify
    ({"email": "ann@example.org", "cognito:groups": ["a,b", "mappers"]}, "ann@example.org", "mappers"),
    ({}, "", ""),
])
def test_the_authorizer_passes_the_verified_address_and_the_groups(
        authorizer: Any, claims: dict[str, Any], email: str, groups: str) -> None:
    answer = authorizer._allow("ann", "arn:aws:execute-api:us-east-1:0:api/v1/GET/x", {"sub": "ann", **claims})
    assert answer["context"]["email"] == email and answer["context"]["groups"] == groups
    assert all(isinstance(value, str) for value in answer["context"].values())  # API Gateway's context: no lists, no null
