"""Live progress (soundcanvas.core.live) against moto: the connection and subscription store (one Query per push,
owner-scoped topics, TTL, disconnect cleans up, limits), the publisher (the message, gone connections removed,
failures counted and never raised, bounded time with slow connections; posts signed for execute-api, checked by
the local stack's management endpoint) and the one path every store's stage change takes to it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from botocore.credentials import Credentials
from urllib3.exceptions import ConnectTimeoutError
from websockets.sync.client import connect

from local_stack.template import LocalTemplate, WebSocketApi
from local_stack.websocket import WebSocketServer
from soundcanvas.core import live
from soundcanvas.core.records import now_iso
from tests.conftest import ManualClock


@pytest.fixture
def store(aws: dict[str, Any], sam_template: LocalTemplate, clock: ManualClock) -> live.ConnectionStore:
    return live.ConnectionStore(sam_template.names["ConnectionsTable"], "us-east-1", clock=clock)


class FakeManagement:
    """The API Gateway Management API at the edge (live.ManagementApi's HTTP): records posts; some connections are
    gone (410), some refused (403), some unreachable, some hang."""

    def __init__(self, gone: Iterable[str] = (), failing: Iterable[str] = (),
                 slow: dict[str, float] | None = None, refused: Iterable[str] = ()) -> None:
        self.gone, self.failing, self.slow, self.refused = set(gone), set(failing), slow or {}, set(refused)
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def signer(self) -> object:
        return object()

    def post(self, signer: object, connection_id: str, data: bytes) -> tuple[int, str]:
        time.sleep(self.slow.get(connection_id, 0.0))
        if connection_id in self.gone:
            return 410, "GoneException"
        if connection_id in self.refused:
            return 403, "ForbiddenException"
        if connection_id in self.failing:
            raise ConnectTimeoutError("connect timed out")
        with self._lock:
            self.posts.append((connection_id, json.loads(data)))
        return 200, ""


def publisher_with(store: live.ConnectionStore, fake: FakeManagement, deadline: float = 1.0) -> live.Publisher:
    publisher = live.Publisher(store, "https://api.example/v1", "us-east-1", deadline=deadline)
    publisher.api = fake  # type: ignore[assignment]
    return publisher


RECORD = {"status": "RUNNING", "stage": "compose", "progress": 40, "updatedAt": "2026-01-01T00:00:00.000Z"}


# --- the store -----------------------------------------------------------------------------------
def test_subscribers_are_found_per_record_and_owner(store: live.ConnectionStore) -> None:
    store.connect("c1", "alice")
    store.connect("c2", "alice")
    store.connect("c3", "bob")
    store.subscribe("c1", "alice", "generation", "j1")
    store.subscribe("c2", "alice", "generation", "j1")
    store.subscribe("c2", "alice", "track", "j1")
    store.subscribe("c3", "bob", "generation", "j1")  # bob's own record with the same id
    assert sorted(store.subscribers("generation", "alice", "j1")) == ["c1", "c2"]
    assert store.subscribers("track", "alice", "j1") == ["c2"]
    assert store.subscribers("generation", "bob", "j1") == ["c3"]
    assert store.subscribers("generation", "alice", "j2") == []


def test_subscribers_are_one_query_never_a_scan(store: live.ConnectionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.connect("c1", "alice")
    store.subscribe("c1", "alice", "generation", "j1")
    calls: list[str] = []
    real_query = store.model.query

    def counting_query(*args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[0]))
        return real_query(*args, **kwargs)

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("scan")

    monkeypatch.setattr(store.model, "query", counting_query)
    monkeypatch.setattr(store.model, "scan", no_scan)
    assert store.subscribers("generation", "alice", "j1") == ["c1"]
    assert calls == [live.topic("generation", "alice", "j1")]


def test_disconnect_removes_the_connection_and_every_subscription(store: live.ConnectionStore) -> None:
    store.connect("c1", "alice")
    store.connect("c2", "alice")
    for item in ("j1", "j2", "j3"):
        store.subscribe("c1", "alice", "generation", item)
    store.subscribe("c2", "alice", "generation", "j1")
    assert store.disconnect("c1") == 4
    assert store.owner("c1") is None
    assert store.subscribers("generation", "alice", "j1") == ["c2"]
    assert store.subscribers("generation", "alice", "j2") == []
    remaining = [(i.pk, i.sk) for i in store.model.scan()]
    assert all("c1" not in pk and sk != "c1" for pk, sk in remaining), remaining
    assert store.connections_of("alice") == ["c2"]


def test_forgetting_a_user_leaves_nothing_of_theirs_and_everyone_else_as_they_were(
        store: live.ConnectionStore) -> None:
    for connection, user in (("c1", "alice"), ("c2", "alice"), ("c3", "alice"), ("b1", "bob")):
        store.connect(connection, user)
    store.subscribe("c1", "alice", "generation", "j1")
    store.subscribe("c2", "alice", "map", "m1")
    store.subscribe("b1", "bob", "generation", "j9")
    store.model.get("C#c3", "#").delete()  # a connection item already gone (TTL) while its user item remains
    assert sorted(store.forget_user("alice")) == ["c1", "c2", "c3"]
    left = list(store.model.scan())
    assert all(item.userId != "alice" and "alice" not in item.pk for item in left), [(i.pk, i.sk) for i in left]
    assert store.owner("b1") == "bob" and store.subscribers("generation", "bob", "j9") == ["b1"]
    assert store.connections_of("bob") == ["b1"]
    assert store.forget_user("alice") == []  # again: nothing left to forget


def test_unsubscribe_stops_only_that_record(store: live.ConnectionStore) -> None:
    store.connect("c1", "alice")
    store.subscribe("c1", "alice", "generation", "j1")
    store.subscribe("c1", "alice", "blend", "b1")
    store.unsubscribe("c1", "alice", "generation", "j1")
    assert store.subscribers("generation", "alice", "j1") == []
    assert store.subscribers("blend", "alice", "b1") == ["c1"]
    assert store.subscriptions("c1") == [live.topic("blend", "alice", "b1")]


def test_items_expire_with_the_connection(store: live.ConnectionStore, clock: ManualClock,
                                          aws: dict[str, Any], sam_template: LocalTemplate) -> None:
    store.connect("c1", "alice")
    store.subscribe("c1", "alice", "map", "m1")
    table = aws["dynamodb"].describe_table(TableName=sam_template.names["ConnectionsTable"])["Table"]
    assert {"AttributeName": "pk", "KeyType": "HASH"} in table["KeySchema"]
    assert sam_template.tables["ConnectionsTable"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt",
                                                                                   "Enabled": True}
    assert {int(i.expiresAt) for i in store.model.scan()} == {int(clock.now + live.CONNECTION_SECONDS)}
    clock.now += live.CONNECTION_SECONDS + 1  # DynamoDB deletes expired items only eventually: reads skip them
    assert store.owner("c1") is None
    assert store.subscribers("map", "alice", "m1") == []


def test_a_subscription_needs_an_open_connection_and_has_a_limit(store: live.ConnectionStore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(live.ConnectionGone):
        store.subscribe("never", "alice", "generation", "j1")
    assert store.subscribers("generation", "alice", "j1") == []
    monkeypatch.setattr(live, "MAX_SUBSCRIPTIONS", 3)
    store.connect("c1", "alice")
    for item in ("j1", "j2", "j3"):
        store.subscribe("c1", "alice", "generation", item)
    store.subscribe("c1", "alice", "generation", "j2")  # again: no change, no error
    with pytest.raises(live.TooManySubscriptions):
        store.subscribe("c1", "alice", "generation", "j4")
    assert len(store.subscriptions("c1")) == 3


# --- the publisher -------------------------------------------------------------------------------
def test_a_change_reaches_every_subscriber_of_the_record(store: live.ConnectionStore) -> None:
    for connection in ("c1", "c2", "c3"):
        store.connect(connection, "alice")
    store.subscribe("c1", "alice", "generation", "j1")
    store.subscribe("c2", "alice", "generation", "j1")
    store.subscribe("c3", "alice", "generation", "other")
    fake = FakeManagement()
    delivered = publisher_with(store, fake).publish(live.message("generation", "j1", RECORD), "alice")
    assert delivered == 2
    assert sorted(c for c, _ in fake.posts) == ["c1", "c2"]
    assert fake.posts[0][1] == {"kind": "generation", "id": "j1", "status": "RUNNING", "stage": "compose",
                                "progress": 40, "at": "2026-01-01T00:00:00.000Z"}


def test_a_gone_connection_is_removed_with_its_subscriptions(store: live.ConnectionStore) -> None:
    store.connect("c1", "alice")
    store.connect("gone", "alice")
    store.subscribe("c1", "alice", "generation", "j1")
    store.subscribe("gone", "alice", "generation", "j1")
    store.subscribe("gone", "alice", "track", "t1")
    before = live.stats["gone"]
    fake = FakeManagement(gone={"gone"})
    assert publisher_with(store, fake).publish(live.message("generation", "j1", RECORD), "alice") == 1
    assert live.stats["gone"] == before + 1
    assert store.subscribers("generation", "alice", "j1") == ["c1"]
    assert store.subscribers("track", "alice", "t1") == [] and store.owner("gone") is None


def test_a_fan_out_wider_than_the_pool_reaches_everyone_past_gone_and_failing_ones(
        store: live.ConnectionStore) -> None:
    subscribers = [f"c{i:02d}" for i in range(3 * live.PUSH_WORKERS + 1)]
    gone, failing = {subscribers[1], subscribers[-2]}, {subscribers[live.PUSH_WORKERS]}
    for connection in subscribers:
        store.connect(connection, "alice")
        store.subscribe(connection, "alice", "generation", "j1")
    store.subscribe(subscribers[1], "alice", "blend", "b1")
    fake = FakeManagement(gone=gone, failing=failing)
    delivered = publisher_with(store, fake).publish(live.message("generation", "j1", RECORD), "alice")
    reached = sorted(c for c, _ in fake.posts)
    assert reached == sorted(set(subscribers) - gone - failing)  # each of the others once, none twice
    assert delivered == len(reached)
    assert sorted(store.subscribers("generation", "alice", "j1")) == sorted(set(subscribers) - gone)
    assert store.subscribers("blend", "alice", "b1") == [] and all(store.owner(c) is None for c in gone)


def test_failures_are_counted_never_raised(store: live.ConnectionStore) -> None:
    for connection in ("c1", "bad", "refused"):
        store.connect(connection, "alice")
        store.subscribe(connection, "alice", "generation", "j1")
    before = live.stats["failed"]
    fake = FakeManagement(failing={"bad"}, refused={"refused"})
    assert publisher_with(store, fake).publish(live.message("generation", "j1", RECORD), "alice") == 1
    assert live.stats["failed"] == before + 2
    assert sorted(store.subscribers("generation", "alice", "j1")) == ["bad", "c1", "refused"]  # not gone: kept


def test_without_credentials_nothing_is_sent_and_each_push_is_counted(store: live.ConnectionStore,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for connection in ("c1", "c2"):
        store.connect(connection, "alice")
        store.subscribe(connection, "alice", "generation", "j1")
    publisher = live.Publisher(store, "https://api.example/v1", "us-east-1")
    monkeypatch.setattr(publisher.api, "credentials", None)  # no role credentials in the environment
    sent: list[str] = []
    monkeypatch.setattr(publisher.api, "post", lambda signer, connection_id, data: sent.append(connection_id))
    before = live.stats["failed"]
    assert publisher.publish(live.message("generation", "j1", RECORD), "alice") == 0
    assert sent == [] and live.stats["failed"] == before + 2
    assert sorted(store.subscribers("generation", "alice", "j1")) == ["c1", "c2"]


KEYS = ("LIVEKEY", "live-secret")


@pytest.fixture
def management() -> Any:
    """The local stack's WebSocket API and its management endpoint (which checks SigV4 by KEYS), no function."""
    api = WebSocketApi("Api", "v1", "action", {}, set(), "https://Api.execute-api.us-east-1.amazonaws.com")
    server = WebSocketServer(api, lambda function, event: {"statusCode": 200}, credentials=KEYS,
                             region="us-east-1").start("127.0.0.1")
    yield server
    server.stop()


def until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())


def test_posts_are_signed_for_execute_api_and_a_wrong_signature_is_refused(store: live.ConnectionStore,
                                                                          management: WebSocketServer) -> None:
    payload = live.message("generation", "j1", RECORD)
    with connect(management.url, open_timeout=10) as socket:
        assert until(lambda: len(management.clients()) == 1)
        connection_id = management.clients()[0].connection_id
        store.connect(connection_id, "alice")
        store.subscribe(connection_id, "alice", "generation", "j1")
        signed = live.Publisher(store, management.management_url, "us-east-1", credentials=Credentials(*KEYS))
        assert signed.publish(payload, "alice") == 1
        assert json.loads(socket.recv(timeout=10)) == payload
        failed = live.stats["failed"]
        forged = live.Publisher(store, management.management_url, "us-east-1",
                                credentials=Credentials(KEYS[0], "not-the-secret"))  # pragma: allowlist secret
        assert forged.publish(payload, "alice") == 0
        assert live.stats["failed"] == failed + 1  # the endpoint's 403: counted, and the subscriber kept
        assert store.subscribers("generation", "alice", "j1") == [connection_id]
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.3)
    assert until(lambda: management.client(connection_id) is None)
    gone = live.stats["gone"]
    assert signed.publish(payload, "alice") == 0  # closed: the endpoint's 410 removes it
    assert live.stats["gone"] == gone + 1 and store.subscribers("generation", "alice", "j1") == []


def test_closing_a_users_connections_closes_their_sockets_only(store: live.ConnectionStore,
                                                               management: WebSocketServer) -> None:
    with connect(management.url, open_timeout=10) as mine, connect(management.url, open_timeout=10) as theirs:
        assert until(lambda: len(management.clients()) == 2)
        ids = [client.connection_id for client in management.clients()]
        store.connect(ids[0], "alice")
        store.connect(ids[1], "bob")
        store.connect("closed-already", "alice")  # the endpoint answers 410: not a failure
        store.subscribe(ids[0], "alice", "generation", "j1")
        publisher = live.Publisher(store, management.management_url, "us-east-1", credentials=Credentials(*KEYS))
        failed = live.stats["failed"]
        assert publisher.close_user("alice") == 2
        assert live.stats["failed"] == failed
        assert until(lambda: management.client(ids[0]) is None)
        assert management.client(ids[1]) is not None and store.owner(ids[1]) == "bob"
        assert store.connections_of("alice") == [] and store.subscribers("generation", "alice", "j1") == []
        # the client side: one of the two sockets (which one the server named ids[0] is not known here) was closed
        assert until(lambda: [sock.protocol.state.name for sock in (mine, theirs)].count("CLOSED") == 1)
        assert publisher.close_user("alice") == 0


def test_closing_forgets_the_connections_even_when_the_endpoint_fails(store: live.ConnectionStore) -> None:
    store.connect("c1", "alice")
    store.subscribe("c1", "alice", "generation", "j1")
    publisher = live.Publisher(store, "http://127.0.0.1:9/v1", "us-east-1", credentials=Credentials(*KEYS))
    failed = live.stats["failed"]
    assert publisher.close_user("alice") == 1  # nothing listens on port 9: counted, and the items are gone anyway
    assert live.stats["failed"] == failed + 1
    assert store.owner("c1") is None and store.subscribers("generation", "alice", "j1") == []


def test_publishing_is_bounded_in_time(store: live.ConnectionStore) -> None:
    slow = {f"s{i}": 3.0 for i in range(2)}
    for connection in [*slow, "c1", "c2"]:
        store.connect(connection, "alice")
        store.subscribe(connection, "alice", "generation", "j1")
    fake = FakeManagement(slow=slow)
    started = time.perf_counter()
    delivered = publisher_with(store, fake, deadline=0.3).publish(live.message("generation", "j1", RECORD), "alice")
    assert time.perf_counter() - started < 1.5
    assert delivered == 2


def test_changed_never_raises(monkeypatch: pytest.MonkeyPatch, aws: dict[str, Any]) -> None:
    monkeypatch.setenv("CONNECTIONS_TABLE_NAME", "no-such-table")
    before = live.stats["failed"]
    live.changed("generation", "alice", "j1", RECORD)  # the table does not exist: logged and counted
    assert live.stats["failed"] == before + 1
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", "")
    skipped = live.stats["skipped"]
    live.changed("generation", "alice", "j1", RECORD)  # no WebSocket API configured: nothing to do
    assert live.stats["skipped"] == skipped + 1


def test_current_state_is_the_callers_own_record_only(aws: dict[str, Any], sam_template: LocalTemplate,
                                                      clock: ManualClock) -> None:
    from soundcanvas.generation.jobs import JobStore

    jobs = JobStore(aws["table"], "us-east-1", clock=clock)
    jobs.create("alice", "j1", options={}, image_key="images/alice/j1/input.jpg", content_type="image/jpeg",
                retention_days=1)
    state = live.current_state(aws["dynamodb"], aws["table"], "generation", "alice", "j1", clock())
    assert state == {"kind": "generation", "id": "j1", "status": "PENDING", "stage": "upload", "progress": 0,
                     "at": now_iso(clock.now)}
    assert live.current_state(aws["dynamodb"], aws["table"], "generation", "bob", "j1", clock()) is None
    assert live.current_state(aws["dynamodb"], aws["table"], "generation", "alice", "j1", clock() + 2 * 86400) is None


# --- one path from every store -------------------------------------------------------------------
@pytest.fixture
def announced(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(kind: str, user_id: str, item_id: str, record: Any) -> None:
        seen.append({"user": user_id, **live.message(kind, item_id, record)})

    monkeypatch.setattr(live, "changed", record)
    return seen


def test_every_generation_stage_change_is_announced(aws: dict[str, Any], clock: ManualClock,
                                                    announced: list[dict[str, Any]]) -> None:
    from soundcanvas.generation.jobs import JobStore

    jobs = JobStore(aws["table"], "us-east-1", clock=clock)
    jobs.create("alice", "j1", options={}, image_key="k", content_type="image/jpeg", retention_days=1)
    assert jobs.claim("alice", "j1") is not None
    for finished, nxt in (("analyze", "compose"), ("compose", "render"), ("render", "done")):
        clock.now += 1
        assert jobs.advance("alice", "j1", finished=finished, elapsed_ms=5, next_stage=nxt)
    assert jobs.claim("alice", "j1") is None and not jobs.fail("alice", "j1", stage="render", message="x")
    assert [(m["status"], m["stage"], m["progress"]) for m in announced] == [
        ("RUNNING", "analyze", 10), ("RUNNING", "compose", 40), ("RUNNING", "render", 60), ("COMPLETE", "done", 100)]
    assert {(m["kind"], m["id"], m["user"]) for m in announced} == {("generation", "j1", "alice")}
    assert announced[-1]["at"] == now_iso(clock.now)
    jobs.restart("alice", "j1", options={})
    assert announced[-1]["status"] == "PENDING"


def test_workflow_record_stores_announce_claim_advance_and_failure(aws: dict[str, Any], clock: ManualClock,
                                                                   announced: list[dict[str, Any]]) -> None:
    from soundcanvas.blend.blends import BlendStore

    pytest.importorskip("soundcanvas.maps.drum_maps")
    from soundcanvas.maps.drum_maps import MapStore

    maps = MapStore(aws["maps_table"], "us-east-1", clock=clock)
    maps.create("alice", "m1", source={"kind": "track", "id": "t1"}, difficulty=None)
    maps.claim("alice", "m1", execution_id="e1")
    maps.advance("alice", "m1", finished="decode", elapsed_ms=1, next_stage="drums")
    maps.fail("alice", "m1", stage="drums", message="no drums")
    assert [(m["kind"], m["status"], m["stage"]) for m in announced] == [
        ("map", "RUNNING", "decode"), ("map", "RUNNING", "drums"), ("map", "FAILED", "drums")]
    assert BlendStore.kind == "blend"


def test_transcriptions_and_tracks_announce_too(aws: dict[str, Any], clock: ManualClock,
                                               announced: list[dict[str, Any]]) -> None:
    from soundcanvas.library.tracks import TrackStore
    from soundcanvas.listen.transcriptions import TranscriptionStore

    transcriptions = TranscriptionStore(aws["transcriptions_table"], "us-east-1", clock=clock)
    transcriptions.create("alice", "x1", source={"kind": "upload"}, options={}, retention_days=1)
    transcriptions.claim("alice", "x1", source_key="listen/alice/x1/source.mp3", retention_days=1)
    transcriptions.advance("alice", "x1", finished="decode", elapsed_ms=1, next_stage="analyze")
    transcriptions.advance("alice", "x1", finished="rhythm", elapsed_ms=1, next_stage=None)  # a branch: no change
    transcriptions.fail("alice", "x1", stage="analyze", message="x")
    assert [(m["kind"], m["status"], m["stage"], m["progress"]) for m in announced] == [
        ("transcription", "RUNNING", "decode", 10), ("transcription", "RUNNING", "analyze", 25),
        ("transcription", "FAILED", "analyze", 25)]
    announced.clear()
    tracks = TrackStore(aws["tracks_table"], "us-east-1", clock=clock)
    claimed = tracks.claim("alice", "t1", key="library/alice/t1/original.mp3", etag="e", version="v1", size=10,
                           file_name="a.mp3", source="upload")
    assert claimed is not None
    assert tracks.set_metadata("alice", "t1", "v1", {"name": "A"})
    assert tracks.mark_ready("alice", "t1", "v1", mp3_key="library/alice/t1/audio.mp3", due_at=0)
    assert [(m["kind"], m["status"], m["stage"], m["progress"]) for m in announced] == [
        ("track", "PROCESSING", "inspect", 10), ("track", "PROCESSING", "transcode", 40), ("track", "READY", "done", 100)]
