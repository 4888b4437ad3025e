"""The Me API handler against moto: notifications (list, pages, unread, mark read, other users never seen), the
preferences moved from Listen's API (Listen's fields and rules, plus emailNotifications), and the caller's
address remembered from the token on every route."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.template import LocalTemplate
from soundcanvas.core.notifications import ContactStore, NotificationStore
from tests.apigw import call, event
from tests.conftest import ManualClock, load_function

pytest.importorskip("soundcanvas.listen.tab", reason="the tab module (tunings) is not written yet")

DROP_D = ["D2", "A2", "D3", "G3", "B3", "E4"]
DEFAULTS = {"guitarTuning": "standard", "notationPreference": "both", "difficultyLevel": "intermediate",
            "emailNotifications": True}


@pytest.fixture
def api(aws: dict[str, Any], sam_template: LocalTemplate, monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Any:
    for key, value in sam_template.functions["MeApiFunction"].environment.items():
        monkeypatch.setenv(key, value)
    module = load_function("me_api")
    monkeypatch.setattr(module, "clock", clock)
    return module


@pytest.fixture
def store(aws: dict[str, Any], sam_template: LocalTemplate, clock: ManualClock) -> NotificationStore:
    return NotificationStore(sam_template.names["NotificationsTable"], "us-east-1", clock=clock)


def notify(store: NotificationStore, clock: ManualClock, user: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        clock.now += 1
        ids.append(store.add(user, kind="map-finished", subject=f"map {i}", text="ready",
                             entity={"kind": "map", "id": f"m{i}"})["notificationId"])
    return ids


def listing(api: Any, user: str = "alice", **query: str) -> dict[str, Any]:
    status, payload = call(api, event("GET", "/me/notifications", user=user, query=query or None))
    assert status == 200, payload
    return dict(payload)


# --- notifications -------------------------------------------------------------------------------
def test_notifications_are_listed_newest_first_page_by_page(api: Any, store: NotificationStore,
                                                            clock: ManualClock) -> None:
    ids = notify(store, clock, "alice", 5)
    notify(store, clock, "bob", 2)
    first = listing(api, limit="3")
    assert [i["notificationId"] for i in first["items"]] == ids[:1:-1] and first["unreadCount"] == 5
    assert first["items"][0] == {"notificationId": ids[4], "kind": "map-finished", "subject": "map 4", "text": "ready",
                                 "entity": {"kind": "map", "id": "m4"}, "createdAt": ids[4].split("#")[0],
                                 "readAt": None, "read": False}
    second = listing(api, limit="3", cursor=first["nextCursor"])
    assert [i["notificationId"] for i in second["items"]] == ids[1::-1] and second["nextCursor"] is None
    status, payload = call(api, event("GET", "/me/notifications", user="bob",
                                      query={"cursor": first["nextCursor"]}))
    assert status == 400 and payload["errors"][0]["field"] == "cursor"  # alice's cursor never pages bob's
    assert {i["entity"]["id"] for i in listing(api, user="bob")["items"]} == {"m0", "m1"}
    assert listing(api, user="carol") == {"items": [], "unreadCount": 0, "nextCursor": None}


def test_marking_read_by_id_and_all(api: Any, store: NotificationStore, clock: ManualClock) -> None:
    ids = notify(store, clock, "alice", 3)
    (bobs,) = notify(store, clock, "bob", 1)
    status, payload = call(api, event("POST", "/me/notifications/read", body={"ids": [ids[0], bobs]}))
    assert (status, payload) == (200, {"marked": 1, "unreadCount": 2})  # bob's is not alice's to mark
    assert [i["notificationId"] for i in listing(api, unread="true")["items"]] == [ids[2], ids[1]]
    read = [i for i in listing(api)["items"] if i["read"]]
    assert [i["notificationId"] for i in read] == [ids[0]] and read[0]["readAt"] is not None
    assert call(api, event("POST", "/me/notifications/read", body={"all": True})) == (200, {"marked": 2, "unreadCount": 0})
    assert listing(api, user="bob")["unreadCount"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"ids": ["2020-01-01T00:00:00.000Z#000000000000"], "all": True}, "body"),
    ({"ids": []}, "ids"),
    ({"ids": ["not-an-id"]}, "ids.0"),
    ({"all": False}, "all"),
    ({"ids": ["2020-01-01T00:00:00.000Z#000000000000"] * 101}, "ids"),
    ({"everything": True}, "everything"),
])
def test_bad_mark_read_requests_are_400_naming_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    status, payload = call(api, event("POST", "/me/notifications/read", body=body))
    assert status == 400 and [e["field"] for e in payload["errors"]] == [field], payload


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"unread": "maybe"}, {"cursor": "bm9wZQ"}])
def test_bad_listing_queries_are_400(api: Any, query: dict[str, str]) -> None:
    status, payload = call(api, event("GET", "/me/notifications", query=query))
    assert status == 400 and payload["errors"][0]["field"] == next(iter(query))


def test_every_route_remembers_the_tokens_address(api: Any, aws: dict[str, Any]) -> None:
    contacts = ContactStore(aws["users_table"], "us-east-1")
    call(api, event("GET", "/me/notifications"))  # no address in the token: nothing is kept
    assert contacts.get("alice").email is None
    for method, path, body in (("GET", "/me/notifications", None), ("GET", "/me/preferences", None),
                               ("POST", "/me/notifications/read", {"all": True}),
                               ("PUT", "/me/preferences", {"difficultyLevel": "advanced"})):
        address = f"alice+{method.lower()}{len(path)}@example.org"
        status, _ = call(api, event(method, path, body=body, email=address))
        assert status == 200 and contacts.get("alice").email == address
    assert contacts.get("bob").email is None


# --- preferences (moved here from Listen's API: the same fields and rules, and emailNotifications) --
def test_preferences_have_defaults_and_take_any_subset(api: Any) -> None:
    assert call(api, event("GET", "/me/preferences")) == (200, DEFAULTS)
    status, saved = call(api, event("PUT", "/me/preferences", body={"notationPreference": "tab"}))
    assert status == 200 and saved == {**DEFAULTS, "notationPreference": "tab"}
    status, saved = call(api, event("PUT", "/me/preferences", body={"guitarTuning": DROP_D, "difficultyLevel": "advanced"}))
    assert saved == {**DEFAULTS, "guitarTuning": DROP_D, "notationPreference": "tab", "difficultyLevel": "advanced"}
    assert call(api, event("GET", "/me/preferences")) == (200, saved)
    status, saved = call(api, event("PUT", "/me/preferences", body={"guitarTuning": "open-g"}))
    assert saved["guitarTuning"] == "open-g" and saved["difficultyLevel"] == "advanced"
    status, saved = call(api, event("PUT", "/me/preferences", body={"guitarTuning": None, "difficultyLevel": None}))
    assert saved == {**DEFAULTS, "notationPreference": "tab"}
    assert call(api, event("GET", "/me/preferences", user="bob")) == (200, DEFAULTS)


def test_email_notifications_turn_off_and_on_beside_listens_preferences(api: Any, aws: dict[str, Any]) -> None:
    status, saved = call(api, event("PUT", "/me/preferences", body={"emailNotifications": False, "guitarTuning": "drop-d"}))
    assert status == 200 and saved == {**DEFAULTS, "guitarTuning": "drop-d", "emailNotifications": False}
    assert ContactStore(aws["users_table"], "us-east-1").get("alice").email_notifications is False
    status, saved = call(api, event("PUT", "/me/preferences", body={"notationPreference": "standard"}))
    assert saved["emailNotifications"] is False and saved["guitarTuning"] == "drop-d"
    status, saved = call(api, event("PUT", "/me/preferences", body={"emailNotifications": None}))  # null: the default
    assert saved == {**DEFAULTS, "guitarTuning": "drop-d", "notationPreference": "standard"}
    assert call(api, event("GET", "/me/preferences", user="bob"))[1]["emailNotifications"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({"guitarTuning": "banjo"}, "guitarTuning"),
    ({"guitarTuning": ["E2", "A2"]}, "guitarTuning"),
    ({"notationPreference": "sheet"}, "notationPreference"),
    ({"difficultyLevel": "expert"}, "difficultyLevel"),
    ({"emailNotifications": "no"}, "emailNotifications"),
    ({"emailNotifications": 0}, "emailNotifications"),
    ({"theme": "dark"}, "theme"),
])
def test_bad_preferences_are_400_naming_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    status, payload = call(api, event("PUT", "/me/preferences", body=body))
    assert status == 400 and [e["field"] for e in payload["errors"]] == [field]
    assert call(api, event("GET", "/me/preferences")) == (200, DEFAULTS)


def test_no_token_no_answer(api: Any) -> None:
    for method, path in (("GET", "/me/notifications"), ("GET", "/me/preferences")):
        status, _ = call(api, event(method, path, user=None))
        assert status == 401
