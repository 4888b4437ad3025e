"""Notifications end to end on the local stack over real HTTP: a drum map made from a library track is notified
in the app and by e-mail (SES, moto's sent mail) to the address of the owner's token; after opting out through
PUT /me/preferences a failed map is notified in the app only; marking read empties the unread count; another
user never sees or marks them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from local_stack.stack import LocalStack
from soundcanvas.maps.drums import SAMPLE_RATE_HZ
from tests.e2e.conftest import ROOT
from tests.e2e.test_maps import Mapper, add_track, encode

pytestmark = pytest.mark.e2e


class Member(Mapper):
    """A caller of the maps routes and of /me."""

    def notifications(self, **query: str) -> dict[str, Any]:
        response = self.session.get(self.url("/me/notifications"), params=query, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def notified(self, count: int, timeout: float = 30.0) -> dict[str, Any]:
        """The notifications once there are `count` (the last step writes one just after the map's status)."""
        deadline = time.monotonic() + timeout
        while len((listed := self.notifications())["items"]) < count:
            assert time.monotonic() < deadline, f"{count} notifications expected: {listed}"
            time.sleep(0.2)
        return listed

    def mark_read(self, **body: Any) -> dict[str, Any]:
        response = self.session.post(self.url("/me/notifications/read"), json=body, timeout=30)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def map_of(self, track_id: str) -> dict[str, Any]:
        created = self.new_map(trackId=track_id)
        assert created.status_code == 202, created.text
        return self.map_finished(created.json()["mapId"])


def mail_to(stack: LocalStack, address: str, count: int = 1, timeout_seconds: float = 10.0) -> list[dict[str, Any]]:
    """The e-mails sent to `address`, once `count` have arrived or the deadline passed: a workflow step writes the
    in-app notification before it sends the e-mail, so the app can show a note whose e-mail is still on its way."""
    deadline = time.monotonic() + timeout_seconds
    while len(mail := stack.sent_mail(to=address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return mail


def test_maps_are_notified_in_the_app_and_by_email_until_the_user_opts_out(stack: LocalStack, tmp_path: Path) -> None:
    user = Member(stack, f"notified-{time.monotonic_ns()}")
    address = f"{user.user}@example.com"  # the local identity provider's e-mail claim, as Cognito's tokens carry one
    sender = stack.template.parameters["NotificationSender"]
    assert user.notifications() == {"items": [], "unreadCount": 0, "nextCursor": None}  # and the address is kept

    groove = user.add(ROOT / "events/maps/groove.mp3", "audio/mpeg")
    assert user.settled(groove["trackId"], timeout=90)["status"] == "READY"
    finished = user.map_of(groove["trackId"])
    assert finished["status"] == "COMPLETE", finished
    listed = user.notified(1)
    (note,) = listed["items"]
    assert note["kind"] == "map-finished" and note["entity"] == {"kind": "map", "id": finished["mapId"]}
    assert note["read"] is False and listed["unreadCount"] == 1
    (mail,) = mail_to(stack, address)
    assert mail["from"] == sender and mail["to"] == [address]
    assert mail["subject"] == note["subject"] and mail["body"].startswith(note["text"])
    assert "emailNotifications" in mail["body"]  # how to stop them

    opted_out = user.session.put(user.url("/me/preferences"), json={"emailNotifications": False}, timeout=30)
    assert opted_out.status_code == 200 and opted_out.json()["emailNotifications"] is False
    seconds = np.arange(10 * SAMPLE_RATE_HZ) / SAMPLE_RATE_HZ
    pad = (0.2 * np.sin(2 * np.pi * 220.0 * seconds) * np.minimum(1.0, seconds)).astype(np.float32)
    no_drums = add_track(user, tmp_path, encode(pad, "wav"), "pad.wav", "audio/wav")
    failed = user.map_of(no_drums["trackId"])
    assert failed["status"] == "FAILED", failed
    listed = user.notified(2)
    newest = listed["items"][0]
    assert newest["kind"] == "map-failed" and newest["entity"] == {"kind": "map", "id": failed["mapId"]}
    assert "no drums" in newest["text"] and listed["unreadCount"] == 2
    assert len(stack.sent_mail(to=address)) == 1  # in the app only

    intruder = Member(stack, f"intruder-{time.monotonic_ns()}")
    assert intruder.notifications()["items"] == []
    assert intruder.mark_read(ids=[newest["notificationId"]]) == {"marked": 0, "unreadCount": 0}
    assert user.notifications()["unreadCount"] == 2
    assert [i["kind"] for i in user.notifications(unread="true", limit="1")["items"]] == ["map-failed"]

    assert user.mark_read(ids=[newest["notificationId"]]) == {"marked": 1, "unreadCount": 1}
    assert user.mark_read(all=True) == {"marked": 1, "unreadCount": 0}
    final = user.notifications()
    assert final["unreadCount"] == 0 and all(item["read"] for item in final["items"])
    assert stack.sent_mail(to=f"{intruder.user}@example.com") == []
