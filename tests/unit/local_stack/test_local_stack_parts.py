"""The local stack's own parts: template loading, event-pattern matching, hot reload."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from local_stack import events, template
from local_stack.apigw import ApiServer, build_event
from local_stack.functions import FunctionHost
from local_stack.stack import LocalStack
from local_stack.template import ApiRoute, FunctionSpec
from local_stack.workflows import UnsupportedDefinition

ROOT = Path(__file__).resolve().parents[3]


def test_the_template_resolves_routes_environment_and_substitutions(sam_template: template.LocalTemplate) -> None:
    routes = {(r.method, r.path): r for fn in sam_template.functions.values() for r in fn.routes}
    assert set(routes) == {("POST", "/generations"), ("GET", "/generations"), ("GET", "/generations/{jobId}"),
                           ("POST", "/generations/{jobId}/regenerate"), ("DELETE", "/generations/{jobId}"),
                           ("GET", "/health"), ("POST", "/tracks/uploads"), ("POST", "/tracks"), ("POST", "/tracks/direct"),
                           ("GET", "/tracks"), ("GET", "/tracks/lookup"), ("GET", "/tracks/{trackId}"),
                           ("PATCH", "/tracks/{trackId}"), ("DELETE", "/tracks/{trackId}"), ("GET", "/downloads"),
                           ("GET", "/due"), ("POST", "/grade"), ("GET", "/training"), ("PUT", "/training"),
                           ("GET", "/me/export"), ("DELETE", "/me"), ("GET", "/openapi.json"),
                           ("POST", "/transcriptions"), ("GET", "/transcriptions"),
                           ("GET", "/transcriptions/{transcriptionId}"), ("DELETE", "/transcriptions/{transcriptionId}"),
                           ("GET", "/transcriptions/{transcriptionId}/result"),
                           ("POST", "/transcriptions/{transcriptionId}/tab"),
                           ("GET", "/me/preferences"), ("PUT", "/me/preferences"),
                           ("GET", "/me/notifications"), ("POST", "/me/notifications/read"),
                           ("GET", "/health/ready"), ("GET", "/health/detailed"),
                           ("GET", "/songs"), ("GET", "/songs/{songId}"), ("POST", "/songs/uploads"), ("POST", "/songs"),
                           ("DELETE", "/songs/{songId}"), ("POST", "/blends"), ("GET", "/blends"),
                           ("GET", "/blends/{blendId}"), ("GET", "/blends/{blendId}/download"),
                           ("DELETE", "/blends/{blendId}"), ("POST", "/maps"), ("GET", "/maps"), ("GET", "/maps/{mapId}"),
                           ("DELETE", "/maps/{mapId}"), ("POST", "/songs/{songId}/audio"), ("POST", "/identify/uploads"),
                           ("POST", "/identify"), ("GET", "/me"),
                           ("POST", "/billing/webhook"), ("POST", "/billing/checkout"), ("GET", "/billing/plan"),
                           ("POST", "/maps/{mapId}/edits"), ("GET", "/maps/{mapId}/versions"),
                           ("GET", "/maps/{mapId}/versions/{version}"), ("POST", "/maps/{mapId}/verify"),
                           ("GET", "/edits"), ("GET", "/edits/{editId}"), ("POST", "/edits/{editId}/votes"),
                           ("POST", "/edits/{editId}/revert"), ("GET", "/users/{userId}/karma"),
                           ("POST", "/users/{userId}/karma"), ("POST", "/graphql")}
    assert {r.function for path, r in routes.items() if path[1].startswith(("/tracks", "/due", "/grade", "/training",
                                                                             "/downloads"))} == {"TracksApiFunction"}
    assert {r.function for path, r in routes.items() if path[1].startswith("/transcriptions")} \
        == {"TranscriptionsApiFunction"}
    assert {r.function for path, r in routes.items() if path[1].startswith(("/me/preferences", "/me/notifications"))} \
        == {"MeApiFunction"}
    assert {r.function for path, r in routes.items() if path[1].startswith("/songs")} \
        == {"SongsApiFunction", "MapsApiFunction"}
    assert routes[("POST", "/songs/{songId}/audio")].function == "MapsApiFunction"  # a song's recording is Maps' business
    assert {r.function for path, r in routes.items() if path[1].startswith("/blends")} == {"BlendsApiFunction"}
    assert not routes[("GET", "/health")].authorizer and routes[("GET", "/generations")].authorizer
    env = sam_template.functions["GenerationsApiFunction"].environment
    assert env["TABLE_NAME"] == sam_template.names["GenerationsTable"]
    assert env["STATE_MACHINE_ARN"].endswith(":stateMachine:GenerationStateMachine")
    assert env["UPLOAD_MAX_BYTES"] == "20971520"
    render = sam_template.functions["RenderFunction"]
    assert render.code_dir == ROOT / "functions/generation/render" and render.handler == "app.lambda_handler"
    transcribe = sam_template.functions["TranscribeFunction"]
    assert transcribe.code_dir == ROOT / "functions/listen/analysis" and transcribe.handler == "transcribe.lambda_handler"
    for machine in ("GenerationStateMachine", "TrackStateMachine", "ListenStateMachine"):
        assert "${" not in json.dumps(sam_template.state_machines[machine]["definition"])
    assert sam_template.binary_media_types == ["multipart/form-data"]


def _copy_repo(tmp_path: Path) -> Path:
    for name in ("template.yaml", "statemachine", "functions", "layers"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_unknown_resource_types_stop_the_stack(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    text = (root / "template.yaml").read_text().replace(
        "Resources:\n", "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n", 1)
    (root / "template.yaml").write_text(text)
    with pytest.raises(template.TemplateError, match="resource Queue: type AWS::SQS::Queue is not supported"):
        template.load(root, region="us-east-1")


def test_missing_definition_substitutions_stop_the_stack(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    text = (root / "template.yaml").read_text().replace(
        "        MarkFailedFunctionArn: !GetAtt MarkFailedFunction.Arn\n", "")
    (root / "template.yaml").write_text(text)
    with pytest.raises(template.TemplateError, match="no DefinitionSubstitutions for MarkFailedFunctionArn"):
        template.load(root, region="us-east-1")


def test_unsupported_intrinsics_stop_the_stack(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    text = (root / "template.yaml").read_text().replace(
        "POWERTOOLS_LOG_LEVEL: INFO", "POWERTOOLS_LOG_LEVEL: !Select [0, [INFO]]")
    (root / "template.yaml").write_text(text)
    with pytest.raises(template.TemplateError, match="Fn::Select is not supported"):
        template.load(root, region="us-east-1")


def test_a_task_the_stack_cannot_run_stops_it_at_start_naming_state_and_feature(tmp_path: Path) -> None:
    root = _copy_repo(tmp_path)
    definition = root / "statemachine" / "generation.asl.json"
    states = json.loads(definition.read_text())
    states["States"]["Render"]["Resource"] = "arn:aws:states:::lambda:invoke.waitForTaskToken"
    definition.write_text(json.dumps(states))
    stack = LocalStack(root, api_port=0, aws_port=0, idp_key=tmp_path / "idp.pem")
    with pytest.raises(UnsupportedDefinition, match=r"GenerationStateMachine\.Render: the \.waitForTaskToken integration"):
        stack.start()
    stack.stop()
    assert not hasattr(stack, "gateway")  # refused before anything listened


def test_the_upload_rule_matches_only_picture_uploads(sam_template: template.LocalTemplate) -> None:
    (rule,) = sam_template.state_machines["GenerationStateMachine"]["rules"]
    bucket = sam_template.names["MediaBucket"]
    event = json.loads((ROOT / "events/generation/start_job.json").read_text())
    assert events.matches(rule, event)
    for key, expected in [("images/u/j/input.png", True), ("images/u/j/features.json", False),
                          ("audio/u/j/output.wav", False), ("images/u/input.jpg", False)]:
        event["detail"]["object"]["key"] = key
        assert events.matches(rule, event) is expected, key
    event["detail"]["object"]["key"] = "images/u/j/input.png"
    event["detail"]["bucket"]["name"] = "someone-elses"
    assert not events.matches(rule, event)
    event["detail"]["bucket"]["name"] = bucket
    event["detail-type"] = "Object Deleted"
    assert not events.matches(rule, event)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": [{"prefix": "im"}]}, {"a": "images"}, True),
        ({"a": [{"suffix": ".png"}]}, {"a": "x.jpg"}, False),
        ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
        ({"a": [{"anything-but": {"prefix": "tmp/"}}]}, {"a": "tmp/1"}, False),
        ({"a": [{"exists": False}]}, {"b": 1}, True),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 5}, True),
        ({"a": [{"numeric": [">", 0, "<=", 5]}]}, {"a": 6}, False),
        ({"a": ["x"]}, {"a": ["y", "x"]}, True),
    ],
)
def test_event_pattern_matchers(pattern: dict, event: dict, expected: bool) -> None:
    events.validate(pattern)
    assert events.matches(pattern, event) is expected


def test_unsupported_matchers_are_rejected() -> None:
    with pytest.raises(events.PatternError, match="not supported locally"):
        events.validate({"detail": {"ip": [{"cidr": "10.0.0.0/8"}]}})


def test_code_changes_are_picked_up_without_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("local_stack.functions.RECHECK_SECONDS", 0.0)
    fn_dir, layer = tmp_path / "fn", tmp_path / "layer"
    (layer / "reloadpkg").mkdir(parents=True)
    fn_dir.mkdir()
    (layer / "reloadpkg" / "__init__.py").write_text("GREETING = 'hello'\n")
    (fn_dir / "app.py").write_text(
        "from reloadpkg import GREETING\n\ndef handler(event, context):\n    return GREETING + event['who']\n")
    host = FunctionHost({"Fn": FunctionSpec("Fn", fn_dir, "app.handler", [layer], {}, 3, 128)})
    assert host.invoke("Fn", {"who": " you"}) == "hello you"
    time.sleep(0.01)
    (layer / "reloadpkg" / "__init__.py").write_text("GREETING = 'bonjour'\n")
    stamp = time.time_ns() + 10_000_000
    os.utime(layer / "reloadpkg" / "__init__.py", ns=(stamp, stamp))
    assert host.invoke("Fn", {"who": " you"}) == "bonjour you"
    (fn_dir / "app.py").write_text("def handler(event, context):\n    return 'changed'\n")
    os.utime(fn_dir / "app.py", ns=(stamp + 10_000_000, stamp + 10_000_000))
    assert host.invoke("Fn", {}) == "changed"


def test_the_track_rule_matches_only_track_originals(sam_template: template.LocalTemplate) -> None:
    (rule,) = sam_template.state_machines["TrackStateMachine"]["rules"]
    event = json.loads((ROOT / "events/library/inspect_track.json").read_text())
    for key, expected in [("library/u/t/original.flac", True), ("library/u/t/audio.abc.mp3", False),
                          ("library/u/t/cover.abc.png", False), ("images/u/j/input.png", False)]:
        event["detail"]["object"]["key"] = key
        assert events.matches(rule, event) is expected, key


def test_api_functions_never_read_each_others_requests(tmp_path: Path) -> None:
    """Powertools keeps the event being resolved in class attributes shared by every resolver in the
    process: two API functions invoked at once must each see their own caller and body."""
    handler = (
        "import time\n"
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "app = APIGatewayRestResolver()\n\n"
        "@app.post('/echo')\n"
        "def echo():\n"
        "    time.sleep(0.005)  # the other function's request arrives meanwhile\n"
        "    return {'user': app.current_event.request_context.authorizer.principal_id,\n"
        "            'body': app.current_event.json_body}\n\n"
        "def handler(event, context):\n"
        "    return app.resolve(event, context)\n")
    specs = {}
    for name in ("Generations", "Tracks"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(handler)
        specs[name] = FunctionSpec(name, tmp_path / name, "app.handler", [], {}, 3, 128,
                                   routes=[ApiRoute(name, "POST", "/echo", True)])
    host = FunctionHost(specs)
    route = ApiRoute("Generations", "POST", "/echo", True)

    def call(name: str, user: str) -> dict[str, Any]:
        event = build_event(route, "POST", "/echo", "", {"Content-Type": "application/json"},
                            json.dumps({"from": user}).encode(), {}, {"principalId": user}, "127.0.0.1")
        return json.loads(host.invoke(name, event)["body"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda i: (i, call(("Generations", "Tracks")[i % 2], f"user{i}")), range(40)))
    assert all(answer == {"user": f"user{i}", "body": {"from": f"user{i}"}} for i, answer in answers)


def test_a_handler_module_clock_is_the_hosts_clock(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import time\nclock = time.time\n\ndef handler(event, context):\n    return clock()\n")
    host = FunctionHost({"Fn": FunctionSpec("Fn", tmp_path, "app.handler", [], {}, 3, 128)}, clock=lambda: 42.0)
    assert host.invoke("Fn", {}) == 42.0


def test_literal_path_segments_win_and_binary_media_types_arrive_base64() -> None:
    routes = [ApiRoute("Get", "GET", "/tracks/{trackId}", True), ApiRoute("Lookup", "GET", "/tracks/lookup", True)]
    server = ApiServer(routes, lambda name, event: None, cors={}, binary_types=["multipart/form-data"])
    assert server.match("GET", "/tracks/lookup")[0].function == "Lookup"
    assert server.match("GET", "/tracks/abc")[0].function == "Get"
    def event(content_type: str, body: bytes) -> dict:
        return build_event(routes[0], "POST", "/x", "", {"Content-Type": content_type}, body, {}, None, "127.0.0.1",
                           server.binary_types)

    form = event("multipart/form-data; boundary=b", b"\xff\x00")
    assert form["isBase64Encoded"] and base64.b64decode(form["body"]) == b"\xff\x00"
    text = event("application/json", b'{"a": 1}')
    assert not text["isBase64Encoded"] and text["body"] == '{"a": 1}'


def test_a_request_or_answer_over_lambdas_payload_limit_stops_at_the_gateway() -> None:
    """A multipart body arrives base64-encoded (4/3 larger): API Gateway refuses an event over Lambda's 6 MB with
    413 before the function runs, and an answer over it is a 502, as on AWS."""
    calls: list[str] = []

    def invoke(name: str, event: dict) -> dict:
        calls.append(name)
        size = int(event["queryStringParameters"]["answer"]) if event["queryStringParameters"] else 2
        return {"statusCode": 200, "body": "x" * size}

    route = ApiRoute("Upload", "POST", "/upload", False)
    server = ApiServer([route], invoke, cors={}, binary_types=["multipart/form-data"])
    port = server.start("127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{port}/upload"
        form = {"Content-Type": "multipart/form-data; boundary=b"}
        fits = requests.post(url, data=b"\0" * (4 * 1024 * 1024), headers=form, timeout=30)
        assert fits.status_code == 200 and calls == ["Upload"]
        over = requests.post(url, data=b"\0" * (5 * 1024 * 1024), headers=form, timeout=30)  # 6.7 MB as base64
        assert over.status_code == 413 and over.json() == {"message": "Request Too Long"} and calls == ["Upload"]
        too_big = requests.post(url, params={"answer": str(7 * 1024 * 1024)}, timeout=30)
        assert too_big.status_code == 502 and calls == ["Upload", "Upload"]
    finally:
        server.stop()


def test_template_yaml_parses_with_cloudformation_tags() -> None:
    raw = yaml.load((ROOT / "template.yaml").read_text(), Loader=template._Loader)  # noqa: S506
    assert raw["Resources"]["GenerationsApiFunction"]["Properties"]["Layers"] == [{"Ref": "CommonLayer"}]


def test_disabled_metrics_do_not_pile_up_across_invocations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    (tmp_path / "app.py").write_text(
        "from aws_lambda_powertools import Metrics\nmetrics = Metrics()\n\n"
        "@metrics.log_metrics\ndef handler(event, context):\n    metrics.add_metric(name='Calls', unit='Count', value=1)\n"
        "    return len(metrics.metric_set.get('Calls', {}).get('Value', []))\n")
    host = FunctionHost({"Fn": FunctionSpec("Fn", tmp_path, "app.handler", [], {}, 3, 128)})
    counts = [host.invoke("Fn", {}) for _ in range(120)]
    assert counts == [1] * 120 and '"_aws"' not in capsys.readouterr().out


def test_functions_sessions_share_parsed_models_but_not_their_clients(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    import botocore.session

    from local_stack.functions import share_botocore_loader

    share_botocore_loader()
    share_botocore_loader()  # a second host in the process changes nothing
    first, second = botocore.session.Session(), botocore.session.Session()
    loader = first.get_component("data_loader")
    assert loader is second.get_component("data_loader")
    paths = list(boto3.session.Session(botocore_session=first)._loader.search_paths)
    boto3.session.Session(botocore_session=second)  # boto3 adds its data folder to the loader again
    assert loader.search_paths == paths
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))  # other model files: another loader
    assert botocore.session.Session().get_component("data_loader") is not loader
    a = first.create_client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="a")
    b = second.create_client("s3", region_name="eu-west-1", aws_access_key_id="b", aws_secret_access_key="b")
    assert a is not b and a.meta.region_name == "us-east-1" and b.meta.region_name == "eu-west-1"
    assert a._request_signer._credentials.access_key == "a" and b._request_signer._credentials.access_key == "b"


def test_processes_creating_the_identity_key_at_once_all_sign_with_the_first_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from local_stack import idp

    path = tmp_path / "idp-key.pem"
    generate = rsa.generate_private_key
    racers: list[idp.LocalIdentityProvider] = []

    def racing(**kwargs: Any) -> rsa.RSAPrivateKey:
        # Another process (a stack) writes its key between this one's look at the file and its own write.
        monkeypatch.setattr(rsa, "generate_private_key", generate)
        racers.append(idp.LocalIdentityProvider(path))
        return generate(**kwargs)

    monkeypatch.setattr(rsa, "generate_private_key", racing)
    late = idp.LocalIdentityProvider(path)
    later = idp.LocalIdentityProvider(path)  # `local_stack token`, say: reads the file
    assert late.kid == racers[0].kid == later.kid  # one key for all: the first written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idp-key.pem"]  # no partial file left


def test_an_identity_key_file_that_is_not_an_rsa_key_stops_the_stack_naming_it(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from local_stack import idp

    path = tmp_path / "idp-key.pem"
    path.write_text("not a key")
    with pytest.raises(RuntimeError, match=r"idp-key\.pem does not hold a PEM private key"):
        idp.LocalIdentityProvider(path)
    path.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(RuntimeError, match=r"idp-key\.pem does not hold an RSA private key"):
        idp.LocalIdentityProvider(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idp-key.pem"]  # left as it was, nothing beside it
