"""The GraphQL function against moto: every query and mutation, ownership, error codes, limits, schema drift."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from graphql import build_client_schema, build_schema, get_introspection_query, print_schema

from soundcanvas.blend.blends import BlendStore
from soundcanvas.generation import jobs
from soundcanvas.library.tracks import TrackStore
from soundcanvas.listen.transcriptions import TranscriptionStore
from soundcanvas.maps.drum_maps import MapStore
from tests.apigw import call, event
from tests.conftest import ROOT, load_function

SCHEMA_FILE = ROOT / "functions/core/graphql_api/schema.graphql"
REGION = "us-east-1"


@pytest.fixture
def api(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GENERATION_QUOTA", "3")
    return load_function("graphql_api")


def gql(api: Any, query: str, variables: dict[str, Any] | None = None, *, user: str | None = "alice",
        operation: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation is not None:
        body["operationName"] = operation
    status, payload = call(api, event("POST", "/graphql", user=user, body=body))
    return status, payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in payload.get("errors", [])]


CREATE = """mutation Create($input: CreateGenerationInput!) {
  createGeneration(input: $input) { jobId imageUploadUrl imageId uploadHeaders { name value } maxBytes expiresAt status }
}"""


def create(api: Any, user: str = "alice", **fields: Any) -> dict[str, Any]:
    status, payload = gql(api, CREATE, {"input": fields}, user=user)
    assert status == 200 and "errors" not in payload, payload
    return dict(payload["data"]["createGeneration"])


# --- the original design: createGeneration, startGeneration, generationStatus, myGenerations --------------
def test_create_generation_signs_a_put_for_the_declared_type_and_size(api: Any, aws: dict[str, Any]) -> None:
    created = create(api, genreOverride="lofi", mode="model", durationSeconds=30, contentType="image/png",
                     sizeBytes=1234)
    assert created["status"] == "PENDING" and created["imageId"] == f"images/alice/{created['jobId']}/input.png"
    url = urlsplit(created["imageUploadUrl"])
    query = parse_qs(url.query)
    assert url.path.endswith(created["imageId"])
    assert query["X-Amz-SignedHeaders"] == ["content-length;content-type;host"]
    assert {h["name"]: h["value"] for h in created["uploadHeaders"]} == {"Content-Type": "image/png",
                                                                         "Content-Length": "1234"}
    assert created["maxBytes"] == 20 * 1024 * 1024
    record = jobs.JobStore(aws["table"], REGION).get("alice", created["jobId"])
    assert record["options"]["genre"] == "lofi" and record["options"]["mode"] == "model"
    assert record["options"]["durationSeconds"] == 30 and isinstance(record["options"]["seed"], int)
    assert record["contentType"] == "image/png" and record["uploadExpiresAt"] == created["expiresAt"]


def test_create_generation_defaults_like_rest_and_signs_the_type_alone_without_a_size(api: Any, aws: dict) -> None:
    created = create(api)
    assert parse_qs(urlsplit(created["imageUploadUrl"]).query)["X-Amz-SignedHeaders"] == ["content-type;host"]
    assert created["imageId"].endswith("/input.jpg")
    options = jobs.JobStore(aws["table"], REGION).get("alice", created["jobId"])["options"]
    assert options["mode"] == "heuristic" and options["durationSeconds"] == 60 and options["genre"] is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"genreOverride": "polka"}, "input.genreOverride"),
    ({"mode": "magic"}, "input.mode"),
    ({"durationSeconds": 5}, "input.durationSeconds"),
    ({"seed": -1}, "input.seed"),
    ({"contentType": "image/svg+xml"}, "input.contentType"),
    ({"sizeBytes": 0}, "input.sizeBytes"),
    ({"sizeBytes": 20 * 1024 * 1024 + 1}, "input.sizeBytes"),
])
def test_create_generation_refuses_what_rest_refuses_naming_the_field(api: Any, aws: dict, fields: dict,
                                                                      field: str) -> None:
    status, payload = gql(api, CREATE, {"input": fields})
    assert status == 200 and payload["data"] is None
    assert codes(payload) == ["BAD_USER_INPUT"] and payload["errors"][0]["extensions"]["field"] == field
    assert payload["errors"][0]["path"] == ["createGeneration"]
    assert jobs.JobStore(aws["table"], REGION).list("alice", limit=10, cursor=None)[0] == []  # nothing written


def test_rest_and_graphql_spend_the_same_generation_quota(api: Any) -> None:
    rest = load_function("generations_api")
    for _ in range(2):
        status, _ = call(rest, event("POST", "/generations", body={}))
        assert status == 201
    create(api)  # the third of GENERATION_QUOTA=3
    status, payload = gql(api, CREATE, {"input": {}})
    assert codes(payload) == ["RATE_LIMITED"] and payload["errors"][0]["extensions"]["retryAfterSeconds"] > 0
    status, payload = call(rest, event("POST", "/generations", body={}))
    assert status == 429


def test_generation_status_follows_the_job_and_signs_urls_once_complete(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]
    query = "query($id: ID!) { generationStatus(jobId: $id) { status audioUrl imageUrl params errorMessage stage } }"
    _, payload = gql(api, query, {"id": job_id})
    assert payload["data"]["generationStatus"] == {"status": "PENDING", "audioUrl": None, "imageUrl": None,
                                                   "params": None, "errorMessage": None, "stage": "upload"}
    store = jobs.JobStore(aws["table"], REGION)
    store.claim("alice", job_id)
    store.advance("alice", job_id, finished="analyze", elapsed_ms=1, next_stage="compose",
                  params={"genre": "jazz", "tempoBpm": 96})
    store.advance("alice", job_id, finished="render", elapsed_ms=1, next_stage="done",
                  audioKey=f"audio/alice/{job_id}/output.wav", previewKey=f"audio/alice/{job_id}/preview.mp3",
                  midiKey=f"midi/alice/{job_id}/composition.mid")
    _, payload = gql(api, query, {"id": job_id})
    status = payload["data"]["generationStatus"]
    assert status["status"] == "COMPLETE" and status["params"]["tempoBpm"] == 96
    assert "X-Amz-Signature" in status["audioUrl"] and f"audio/alice/{job_id}/output.wav" in status["audioUrl"]
    assert "X-Amz-Signature" in status["imageUrl"]


def test_a_failed_generation_reports_its_error(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]
    store = jobs.JobStore(aws["table"], REGION)
    store.claim("alice", job_id)
    store.fail("alice", job_id, stage="analyze", message="the picture could not be read")
    _, payload = gql(api, "query($id: ID!) { generationStatus(jobId: $id) { status errorMessage } }", {"id": job_id})
    assert payload["data"]["generationStatus"] == {"status": "FAILED", "errorMessage": "the picture could not be read"}


def test_start_generation_is_accepted_and_changes_nothing(api: Any, aws: dict[str, Any]) -> None:
    job_id = create(api)["jobId"]
    before = jobs.JobStore(aws["table"], REGION).get("alice", job_id)
    _, payload = gql(api, "mutation($id: ID!) { startGeneration(jobId: $id) { success status message } }",
                     {"id": job_id})
    assert payload["data"]["startGeneration"]["success"] is True
    assert payload["data"]["startGeneration"]["status"] == "PENDING"
    assert jobs.JobStore(aws["table"], REGION).get("alice", job_id) == before


def test_my_generations_lists_the_callers_newest_first(api: Any) -> None:
    first, second = create(api)["jobId"], create(api)["jobId"]
    create(api, user="bob")
    _, payload = gql(api, "{ myGenerations(limit: 10) { jobId status createdAt } }")
    ids = [g["jobId"] for g in payload["data"]["myGenerations"]]
    assert sorted(ids) == sorted([first, second])
    _, payload = gql(api, "{ myGenerations(limit: 1) { jobId } }")
    assert len(payload["data"]["myGenerations"]) == 1
    _, payload = gql(api, "{ myGenerations(limit: 0) { jobId } }")
    assert codes(payload) == ["BAD_USER_INPUT"] and payload["errors"][0]["extensions"]["field"] == "limit"


def test_generations_connection_pages_with_a_cursor_bound_to_the_caller(api: Any) -> None:
    mine = {create(api)["jobId"] for _ in range(3)}
    query = "query($c: String) { generations(limit: 2, cursor: $c) { items { jobId } nextCursor } }"
    _, page = gql(api, query, {"c": None})
    first = page["data"]["generations"]
    assert len(first["items"]) == 2 and first["nextCursor"]
    _, page = gql(api, query, {"c": first["nextCursor"]})
    rest = page["data"]["generations"]
    assert {i["jobId"] for i in first["items"] + rest["items"]} == mine and rest["nextCursor"] is None
    _, payload = gql(api, query, {"c": first["nextCursor"]}, user="bob")
    assert codes(payload) == ["BAD_USER_INPUT"] and payload["errors"][0]["extensions"]["field"] == "cursor"


def test_delete_generation_removes_the_record_and_its_objects(api: Any, aws: dict[str, Any]) -> None:
    created = create(api)
    aws["s3"].put_object(Bucket=aws["bucket"], Key=created["imageId"], Body=b"x")
    _, payload = gql(api, "mutation($id: ID!) { deleteGeneration(jobId: $id) { success } }", {"id": created["jobId"]})
    assert payload["data"]["deleteGeneration"]["success"] is True
    assert jobs.JobStore(aws["table"], REGION).get("alice", created["jobId"]) is None
    assert aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix=f"images/alice/{created['jobId']}/")["KeyCount"] == 0


# --- the other products: same stores, same ownership --------------------------------------------------
def _records(aws: dict[str, Any]) -> dict[str, str]:
    """One record of each product for alice, made with the products' own stores."""
    TrackStore(aws["tracks_table"], REGION).create("alice", "t1", file_name="song.mp3", source="upload",
                                                   name="Song", artist="Band")
    TranscriptionStore(aws["transcriptions_table"], REGION).create(
        "alice", "x1", source={"kind": "upload"}, options={"instrument": "guitar", "capo": 2}, retention_days=7)
    BlendStore(aws["blends_table"], REGION).create(
        "alice", "b1", songs=[{"songId": "s1", "title": "One", "artist": None, "weight": 0.5},
                              {"songId": "s2", "title": "Two", "artist": "Trad", "weight": 0.5}],
        options={"temperature": 1.0})
    MapStore(aws["maps_table"], REGION).create("alice", "m1", source={"kind": "track", "id": "t1", "title": "Song"},
                                               difficulty="hard")
    return {"track": "t1", "transcription": "x1", "blend": "b1", "map": "m1"}


SINGLE = {
    "track": "query($id: ID!) { track(trackId: $id) { trackId status fileName name artist tags streamUrl } }",
    "transcription": "query($id: ID!) { transcription(transcriptionId: $id) { transcriptionId status instrument capo "
                     "midiUrl } }",
    "blend": "query($id: ID!) { blend(blendId: $id) { blendId status songs { songId title weight } audioUrl } }",
    "map": "query($id: ID!) { map(mapId: $id) { mapId status sourceKind sourceId difficulty public version } }",
}


def test_each_products_record_is_read_through_its_store(api: Any, aws: dict[str, Any]) -> None:
    ids = _records(aws)
    _, payload = gql(api, SINGLE["track"], {"id": ids["track"]})
    assert payload["data"]["track"] == {"trackId": "t1", "status": "UPLOADING", "fileName": "song.mp3",
                                        "name": "Song", "artist": "Band", "tags": [], "streamUrl": None}
    _, payload = gql(api, SINGLE["transcription"], {"id": ids["transcription"]})
    assert payload["data"]["transcription"] == {"transcriptionId": "x1", "status": "PENDING", "instrument": "guitar",
                                                "capo": 2, "midiUrl": None}
    _, payload = gql(api, SINGLE["blend"], {"id": ids["blend"]})
    assert [s["title"] for s in payload["data"]["blend"]["songs"]] == ["One", "Two"]
    _, payload = gql(api, SINGLE["map"], {"id": ids["map"]})
    assert payload["data"]["map"] == {"mapId": "m1", "status": "PENDING", "sourceKind": "track", "sourceId": "t1",
                                      "difficulty": "hard", "public": False, "version": 1}


@pytest.mark.parametrize("kind", sorted(SINGLE))
def test_another_users_record_is_not_found(api: Any, aws: dict[str, Any], kind: str) -> None:
    ids = _records(aws)
    status, payload = gql(api, SINGLE[kind], {"id": ids[kind]}, user="mallory")
    assert status == 200 and payload["data"] is None and codes(payload) == ["NOT_FOUND"]
    assert ids[kind] in payload["errors"][0]["message"]


@pytest.mark.parametrize("query", [
    "query($id: ID!) { generationStatus(jobId: $id) { status } }",
    "query($id: ID!) { generation(jobId: $id) { status } }",
    "mutation($id: ID!) { startGeneration(jobId: $id) { success } }",
    "mutation($id: ID!) { deleteGeneration(jobId: $id) { success } }",
])
def test_another_users_generation_is_not_found_and_untouched(api: Any, aws: dict[str, Any], query: str) -> None:
    job_id = create(api)["jobId"]
    _, payload = gql(api, query, {"id": job_id}, user="mallory")
    assert codes(payload) == ["NOT_FOUND"]
    assert jobs.JobStore(aws["table"], REGION).get("alice", job_id) is not None


@pytest.mark.parametrize(("field", "argument", "table", "store"), [
    ("deleteTranscription", "transcriptionId", "transcriptions_table", TranscriptionStore),
    ("deleteBlend", "blendId", "blends_table", BlendStore),
])
def test_deletes_are_the_owners_alone(api: Any, aws: dict[str, Any], field: str, argument: str, table: str,
                                      store: Any) -> None:
    ids = _records(aws)
    record_id = ids["transcription" if store is TranscriptionStore else "blend"]
    query = f"mutation($id: ID!) {{ {field}({argument}: $id) {{ success }} }}"
    _, payload = gql(api, query, {"id": record_id}, user="mallory")
    assert codes(payload) == ["NOT_FOUND"] and store(aws[table], REGION).get("alice", record_id) is not None
    _, payload = gql(api, query, {"id": record_id})
    assert payload["data"][field]["success"] is True and store(aws[table], REGION).get("alice", record_id) is None


def test_connections_list_only_the_callers_records(api: Any, aws: dict[str, Any]) -> None:
    _records(aws)
    query = """{ tracks { items { trackId } nextCursor } transcriptions { items { transcriptionId } nextCursor }
                 blends { items { blendId } nextCursor } maps { items { mapId } nextCursor } }"""
    _, payload = gql(api, query)
    data = payload["data"]
    assert [i["trackId"] for i in data["tracks"]["items"]] == ["t1"]
    assert [i["transcriptionId"] for i in data["transcriptions"]["items"]] == ["x1"]
    assert [i["blendId"] for i in data["blends"]["items"]] == ["b1"]
    assert [i["mapId"] for i in data["maps"]["items"]] == ["m1"]
    _, payload = gql(api, query, user="mallory")
    assert all(not connection["items"] for connection in payload["data"].values())


def test_tracks_filter_as_rest_does(api: Any, aws: dict[str, Any]) -> None:
    _records(aws)
    TrackStore(aws["tracks_table"], REGION).create("alice", "t2", file_name="other.mp3", source="upload",
                                                   name="Other", artist="Someone")
    _, payload = gql(api, '{ tracks(artist: "Band") { items { trackId } } }')
    assert [i["trackId"] for i in payload["data"]["tracks"]["items"]] == ["t1"]
    _, payload = gql(api, '{ tracks(q: "other") { items { trackId } } }')
    assert [i["trackId"] for i in payload["data"]["tracks"]["items"]] == ["t2"]


# --- errors and their codes ----------------------------------------------------------------------------
def test_a_malformed_id_is_bad_input(api: Any) -> None:
    _, payload = gql(api, 'query { track(trackId: "../x") { trackId } }')
    assert codes(payload) == ["BAD_USER_INPUT"] and payload["errors"][0]["extensions"]["field"] == "trackId"


def test_document_errors_are_refused_before_anything_runs(api: Any) -> None:
    status, payload = gql(api, "{ myGenerations(limit: 1) { jobId ")
    assert status == 200 and "data" not in payload and codes(payload) == ["GRAPHQL_PARSE_FAILED"]
    status, payload = gql(api, "{ myGenerations(limit: 1) { secretKey } }")
    assert status == 200 and "data" not in payload and codes(payload) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "secretKey" in payload["errors"][0]["message"]
    status, payload = gql(api, "{ myGenerations { jobId } }")  # limit is Int! in the original schema
    assert status == 200 and "data" not in payload and codes(payload) == ["GRAPHQL_VALIDATION_FAILED"]


def test_a_variable_of_the_wrong_type_is_bad_input(api: Any) -> None:
    status, payload = gql(api, "query($n: Int!) { myGenerations(limit: $n) { jobId } }", {"n": "ten"})
    assert status == 200 and codes(payload) == ["BAD_USER_INPUT"] and payload["data"] is None


def test_no_caller_is_unauthenticated(api: Any) -> None:
    status, payload = gql(api, "{ myGenerations(limit: 1) { jobId } }", user=None)
    assert status == 401 and codes(payload) == ["UNAUTHENTICATED"]


def test_the_body_is_checked_like_every_route(api: Any) -> None:
    status, payload = call(api, event("POST", "/graphql", body={"query": "{ myGenerations(limit: 1) { jobId } }",
                                                                 "unknown": 1}))
    assert status == 400 and payload["errors"][0]["field"] == "unknown"
    status, payload = call(api, event("POST", "/graphql", body={"query": "x" * 20_001}))
    assert status == 400 and "20000 characters" in payload["message"]
    status, payload = call(api, event("POST", "/graphql", body={"query": "{ a }", "variables": [1]}))
    assert status == 400 and payload["errors"][0]["field"] == "variables"
    status, payload = call(api, event("POST", "/graphql", body=["query"]))
    assert status == 400 and payload["errors"][0]["field"] == "body"
    not_json = event("POST", "/graphql", body={"query": "{ a }"})
    status, payload = call(api, {**not_json, "body": "{query"})
    assert status == 400 and payload["errors"] == [{"field": "body", "message": "is not valid JSON"}]
    for content_type, text in [("text/plain", "query=x"), ("text/plain", json.dumps({"query": "{ __typename }"})),
                               ("application/x-www-form-urlencoded", json.dumps({"query": "{ __typename }"})),
                               ("text/plain", "[" * 2000)]:  # never parsed: JSON's size and depth checks skip it
        sent = {**not_json, "body": text, "headers": {**not_json["headers"], "Content-Type": content_type}}
        status, payload = call(api, sent)
        assert status == 415 and payload["errors"][0]["field"] == "Content-Type", (content_type, payload)


BODIES = [
    {"query": "{ a }"}, {"query": ""}, {"query": "x" * 20_000}, {"query": "x" * 20_001}, {}, {"query": None},
    {"query": 3}, {"query": "{ a }", "variables": None, "operationName": None, "extensions": None},
    {"query": "{ a }", "variables": {"n": 1}, "extensions": {"persistedQuery": {}}}, {"query": "{ a }", "variables": 1},
    {"query": "{ a }", "variables": []}, {"query": "{ a }", "extensions": "x"}, {"query": "{ a }", "operationName": "Q"},
    {"query": "{ a }", "operationName": "Q" * 200}, {"query": "{ a }", "operationName": "Q" * 201},
    {"query": "{ a }", "operationName": 7}, {"query": "{ a }", "unknown": 1}, [], "query", None,
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_body_reader_accepts_what_the_published_schema_accepts(api: Any, body: Any) -> None:
    """read_request (the function's own check, no pydantic) and REQUEST_SCHEMA (what openapi.json publishes) agree."""
    import jsonschema

    valid = jsonschema.Draft202012Validator(api.REQUEST_SCHEMA).is_valid(body)
    try:
        api.read_request(body)
        read = True
    except api.FieldError:
        read = False
    assert read == valid


def test_a_query_loads_neither_pydantic_nor_boto3(aws: dict[str, Any]) -> None:
    """A container that has only answered queries has not loaded what only mutations need: its cold start, and
    the query after it (docs/clients.md#library-and-cold-start)."""
    code = (  # tests.apigw is not imported there: tests.conftest brings boto3 and moto
        "import importlib.util, json, sys, types; sys.path.insert(0, sys.argv[2])\n"
        "spec = importlib.util.spec_from_file_location('app', sys.argv[1])\n"
        "m = sys.modules['app'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "context = types.SimpleNamespace(function_name='graphql', memory_limit_in_mb=512, aws_request_id='r', "
        "invoked_function_arn='arn:aws:lambda:us-east-1:000000000000:function:graphql')\n"
        "answer = m.lambda_handler(json.loads(sys.argv[3]), context)\n"
        "loaded = sorted(n for n in ('pydantic', 'boto3', 'soundcanvas.generation.creation') if n in sys.modules)\n"
        "print(json.dumps([answer['statusCode'], json.loads(answer['body']), loaded]))"
    )
    query = json.dumps(event("POST", "/graphql", body={"query": "{ __typename }"}))
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "functions/core/graphql_api/app.py"),
                          str(ROOT / "layers/common"), query], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [200, {"data": {"__typename": "Query"}}, []]


def test_an_unexpected_failure_is_internal_and_says_nothing_more(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("table arn:aws:dynamodb:secret")

    monkeypatch.setattr(api.generations, "list", broken)
    _, payload = gql(api, "{ myGenerations(limit: 1) { jobId } }")
    assert codes(payload) == ["INTERNAL_SERVER_ERROR"] and "secret" not in json.dumps(payload)


def test_one_failing_field_leaves_the_others_answered(api: Any) -> None:
    create(api)
    _, payload = gql(api, '{ myGenerations(limit: 5) { jobId } track(trackId: "nope") { trackId } }')
    assert payload["data"] is None or payload["data"].get("myGenerations")  # track is non-null: data nulls out
    assert codes(payload) == ["NOT_FOUND"] and payload["errors"][0]["path"] == ["track"]


# --- limits ------------------------------------------------------------------------------------------
def test_the_standard_introspection_query_fits_the_limits(api: Any) -> None:
    status, payload = gql(api, get_introspection_query())
    assert status == 200 and "errors" not in payload


def test_a_query_too_deep_is_refused(api: Any) -> None:
    deep = "{ __schema { types { " + "fields { type { " * 8 + "name" + " } } " * 8 + "} } }"
    status, payload = gql(api, deep)
    assert status == 200 and "data" not in payload and codes(payload) == ["QUERY_TOO_DEEP"]


def test_a_query_too_costly_is_refused_counting_limits_aliases_fragments_and_variables(api: Any) -> None:
    fields = "jobId status stage progress params imageUrl audioUrl previewUrl midiUrl errorMessage createdAt"
    one = f"generations(limit: 100) {{ items {{ {fields} }} }}"
    status, payload = gql(api, f"{{ {one} }}")
    assert status == 200 and "errors" not in payload, payload
    status, payload = gql(api, f"{{ a: {one} b: {one} }}")
    assert status == 200 and "data" not in payload and codes(payload) == ["QUERY_TOO_COSTLY"]
    fragment = f"fragment F on Query {{ {one} }}"
    status, payload = gql(api, f"query {{ ...F x: myGenerations(limit: 100) {{ {fields} }} }} {fragment}")
    assert status == 200 and "data" not in payload and codes(payload) == ["QUERY_TOO_COSTLY"]
    status, payload = gql(api, f"query($n: Int!) {{ a: myGenerations(limit: $n) {{ {fields} }} "
                               f"b: myGenerations(limit: $n) {{ {fields} }} }}", {"n": 100})
    assert status == 200 and "data" not in payload and codes(payload) == ["QUERY_TOO_COSTLY"]
    status, payload = gql(api, f"query($n: Int!) {{ a: myGenerations(limit: $n) {{ {fields} }} "
                               f"b: myGenerations(limit: $n) {{ {fields} }} }}", {"n": 5})
    assert status == 200 and "errors" not in payload, payload


def test_a_huge_document_is_refused_by_the_token_cap(api: Any) -> None:
    status, payload = gql(api, "{ " + " ".join(["a"] * 2100) + " }")
    assert status == 200 and "data" not in payload and codes(payload) == ["GRAPHQL_PARSE_FAILED"]


# --- the schema file: what is served, what is resolved, the original names -------------------------------
def test_the_served_schema_is_the_file(api: Any) -> None:
    _, payload = gql(api, get_introspection_query(schema_description=True))
    served = build_client_schema(payload["data"])
    assert print_schema(served) == print_schema(build_schema(SCHEMA_FILE.read_text()))


def test_every_root_field_has_a_resolver_and_every_resolver_a_field(api: Any) -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    for type_name, resolvers in api.ROOT.items():
        assert set(resolvers) == set(schema.get_type(type_name).fields), type_name
    assert set(schema.query_type.fields) >= api.PAGED_FIELDS


def test_every_object_types_field_is_filled_by_its_view(api: Any) -> None:
    """A field added to the schema but not to a view would silently answer null: the views must cover them."""
    schema = build_schema(SCHEMA_FILE.read_text())
    job = {"jobId": "j", "status": "COMPLETE", "stage": "done", "progress": 100, "options": {}, "imageKey": "k",
           "createdAt": "t", "updatedAt": "t"}
    record = {"status": "COMPLETE", "stage": "done", "progress": 100, "createdAt": "t", "updatedAt": "t",
              "fileName": "f.mp3", "trackId": "t", "transcriptionId": "x", "blendId": "b", "mapId": "m"}
    views = {"Generation": api._generation(job), "Track": api._track(record),
             "Transcription": api._transcription(record), "Blend": api._blend(record),
             "DrumMap": api._drum_map(record)}
    for type_name in ("Generation", "Track", "Transcription", "Blend", "DrumMap"):
        assert set(schema.get_type(type_name).fields) == set(views[type_name]), type_name
    assert set(schema.get_type("GenerationStatusResponse").fields) <= set(views["Generation"])


def test_the_original_designs_names_and_types_are_kept() -> None:
    schema = build_schema(SCHEMA_FILE.read_text())
    mutation, query = schema.mutation_type, schema.query_type
    create_field = mutation.fields["createGeneration"]
    assert str(create_field.type) == "CreateGenerationPayload!"
    assert str(create_field.args["input"].type) == "CreateGenerationInput!"
    assert {"genreOverride", "mode"} <= set(schema.get_type("CreateGenerationInput").fields)
    assert {"contentType", "sizeBytes"} <= set(schema.get_type("CreateGenerationInput").fields)
    payload = schema.get_type("CreateGenerationPayload").fields
    assert {name: str(payload[name].type) for name in ("jobId", "imageUploadUrl", "imageId")} == {
        "jobId": "ID!", "imageUploadUrl": "String!", "imageId": "ID!"}
    assert str(mutation.fields["startGeneration"].type) == "MutationResponse!"
    assert str(mutation.fields["startGeneration"].args["jobId"].type) == "ID!"
    assert str(query.fields["generationStatus"].type) == "GenerationStatusResponse!"
    assert str(query.fields["generationStatus"].args["jobId"].type) == "ID!"
    assert str(query.fields["myGenerations"].type) == "[Generation!]!"
    assert str(query.fields["myGenerations"].args["limit"].type) == "Int!"
    assert {"status", "audioUrl", "imageUrl", "params", "errorMessage"} <= set(
        schema.get_type("GenerationStatusResponse").fields)
    assert list(schema.get_type("GenerationStatus").values) == ["PENDING", "RUNNING", "COMPLETE", "FAILED"]


def test_docs_link_the_schema_file() -> None:
    page = (ROOT / "docs/clients.md").read_text()
    assert "## GraphQL" in page and "functions/core/graphql_api/schema.graphql" in page
    for field in build_schema(SCHEMA_FILE.read_text()).query_type.fields:
        assert field in page, f"docs/clients.md does not mention Query.{field}"
