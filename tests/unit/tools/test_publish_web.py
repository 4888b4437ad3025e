"""tools/publish_web.py: the stack's outputs become config.json, every file the app loads is uploaded with
the type a browser needs and the caching the app relies on, and a publish against S3 and CloudFront (moto,
in process) leaves the bucket equal to web/ and invalidates the distribution."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_stack import template

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "web"
REGION = "us-east-1"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("publish_web", ROOT / "tools" / "publish_web.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def stack_outputs(sam_template: template.LocalTemplate) -> dict[str, str]:
    """One made-up value per output template.yaml declares, as DescribeStacks would give them."""
    return {key: f"https://{key.lower()}.example/" if key.endswith("Url") else f"{key.lower()}-value"
            for key in sam_template.raw["Outputs"]}


# ------------------------------------------------------------------ outputs -> config.json


def test_every_output_the_tool_reads_is_one_the_template_declares(sam_template: template.LocalTemplate) -> None:
    declared = set(sam_template.raw["Outputs"])
    assert set(tool.CONFIG_OUTPUTS.values()) <= declared
    assert set(tool.UPLOAD_OUTPUTS) <= declared


def test_config_json_signs_in_through_the_hosted_ui_of_the_deployed_stack(
    sam_template: template.LocalTemplate,
) -> None:
    outputs = stack_outputs(sam_template)
    config = tool.web_config(tool.outputs_of({"Outputs": [{"OutputKey": k, "OutputValue": v}
                                                          for k, v in outputs.items()]}))
    assert config == {
        "auth": "cognito",
        "authUrl": outputs["AuthUrl"].rstrip("/"),
        "clientId": outputs["UserPoolClientId"],
        "redirectUri": outputs["WebUrl"],  # exactly the app client's callback URL
        "apiUrl": outputs["ApiUrl"].rstrip("/"),
        "wsUrl": outputs["WebSocketUrl"].rstrip("/"),
        "storageUrl": outputs["StorageUrl"].rstrip("/"),
    }


def test_the_redirect_uri_is_the_app_clients_callback_and_logout_url(sam_template: template.LocalTemplate) -> None:
    web_url = sam_template.raw["Outputs"][tool.CONFIG_OUTPUTS["redirectUri"]]["Value"]
    client = sam_template.raw["Resources"]["UserPoolClient"]["Properties"]
    assert client["CallbackURLs"] == [web_url] and client["LogoutURLs"] == [web_url]
    assert client["AllowedOAuthFlows"] == ["code"] and set(client["AllowedOAuthScopes"]) == {"openid", "email"}


def test_a_stack_without_the_web_outputs_is_refused_naming_them(sam_template: template.LocalTemplate) -> None:
    outputs = stack_outputs(sam_template)
    del outputs["AuthUrl"]
    outputs["StorageUrl"] = ""
    with pytest.raises(tool.PublishError, match="AuthUrl, StorageUrl"):
        tool.web_config(outputs)


def test_the_stack_and_region_come_from_samconfig() -> None:
    assert tool.stack_from_samconfig((ROOT / "samconfig.toml").read_text())[0] == "soundcanvas"
    guided = ('[default.global.parameters]\nstack_name = "soundcanvas"\n'
              '[default.deploy.parameters]\nstack_name = "soundcanvas-prod"\nregion = "eu-west-1"\n')
    assert tool.stack_from_samconfig(guided) == ("soundcanvas-prod", "eu-west-1")
    with pytest.raises(tool.PublishError, match="--stack-name"):
        tool.stack_from_samconfig(guided, "staging")


# ------------------------------------------------------------------ files -> keys, types, caching


def referenced_files() -> set[str]:
    """Every file index.html and the modules name (src/href, static and dynamic imports, useStyles pages),
    as a key under web/."""
    found = {"index.html"}
    for match in re.finditer(r'(?:src|href)="/?([^"#?:]+)"', (WEB / "index.html").read_text()):
        found.add(match[1])
    for module in WEB.rglob("*.js"):
        text = module.read_text()
        for match in re.finditer(r'(?:from|import)\s*\(?\s*"(\.{1,2}/[^"]+)"', text):
            found.add((module.parent / match[1]).resolve().relative_to(WEB.resolve()).as_posix())
        for match in re.finditer(r'useStyles\("([\w-]+)"\)', text):
            found.add(f"assets/pages/{match[1]}.css")
    return found


def test_every_file_the_app_loads_is_published() -> None:
    keys = tool.web_files(WEB)
    needed = referenced_files()
    assert {"index.html", "favicon.svg", "assets/app.js", "assets/app.css"} <= needed
    assert needed <= set(keys), sorted(needed - set(keys))
    assert set(keys) == {p.relative_to(WEB).as_posix() for p in WEB.rglob("*")
                         if p.is_file() and not p.name.startswith(".")}


def test_hidden_files_and_a_stray_config_json_are_not_published(tmp_path: Path) -> None:
    for name in ("index.html", "assets/app.js", ".DS_Store", "assets/.app.js.swp", ".git/config", "config.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert tool.web_files(tmp_path) == ["assets/app.js", "index.html"]


def test_each_file_gets_the_type_a_browser_needs_and_its_caching() -> None:
    for key in tool.web_files(WEB):
        kind, cache = tool.content_type(key), tool.cache_control(key)
        if key.endswith(".js"):
            assert kind.startswith("text/javascript"), key  # module scripts are refused otherwise (nosniff)
        elif key.endswith(".css"):
            assert kind.startswith("text/css"), key
        elif key.endswith(".svg"):
            assert kind == "image/svg+xml", key
        assert cache == (tool.NO_CACHE if key == "index.html" else tool.ASSET_CACHE), key
    assert tool.content_type("index.html").startswith("text/html")
    assert tool.cache_control("config.json") == "no-cache"
    assert tool.content_type("config.json").startswith("application/json")


def test_a_file_of_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(tool.PublishError, match=re.escape("web/assets/notes.xyz-unknown")):
        tool.content_type("assets/notes.xyz-unknown")


def test_index_html_goes_up_last_after_config_json(sam_template: template.LocalTemplate) -> None:
    config = tool.web_config(stack_outputs(sam_template))
    uploads = tool.plan(WEB, config)
    assert [u.key for u in uploads[-2:]] == ["config.json", "index.html"]
    assert json.loads(uploads[-2].body) == config
    assert len({u.key for u in uploads}) == len(uploads)


# ------------------------------------------------------------------ a publish against moto's S3 and CloudFront


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, sam_template: template.LocalTemplate) -> Iterator[dict[str, Any]]:
    """A stack with the template's outputs, a web bucket holding a file web/ no longer has, a distribution."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        bucket = "soundcanvas-webbucket-test"
        distribution = session.client("cloudfront").create_distribution(DistributionConfig={
            "CallerReference": "test", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "web-bucket", "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "web-bucket", "ViewerProtocolPolicy": "redirect-to-https"},
        })["Distribution"]["Id"]
        outputs = {**stack_outputs(sam_template), "WebDistributionId": distribution}
        stack_template = {
            "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": bucket}}},
            "Outputs": {**{key: {"Value": value} for key, value in outputs.items()},
                        "WebBucketName": {"Value": {"Ref": "WebBucket"}}},
        }
        session.client("cloudformation").create_stack(StackName="soundcanvas", TemplateBody=json.dumps(stack_template))
        session.client("s3").put_object(Bucket=bucket, Key="assets/pages/removed.js", Body=b"old")
        yield {"session": session, "bucket": bucket, "distribution": distribution, "outputs": outputs}


def test_a_publish_makes_the_bucket_web_and_invalidates_everything(deployed: dict[str, Any]) -> None:
    session, bucket = deployed["session"], deployed["bucket"]
    summary = tool.publish(session, "soundcanvas")
    s3 = session.client("s3")
    keys = {obj["Key"] for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {*tool.web_files(WEB), "config.json"}  # the removed page is gone
    assert summary["deleted"] == ["assets/pages/removed.js"]
    for key in ("index.html", "assets/app.js", "assets/app.css", "config.json"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == tool.content_type(key)
        assert head["CacheControl"] == tool.cache_control(key)
    assert s3.get_object(Bucket=bucket, Key="index.html")["Body"].read() == (WEB / "index.html").read_bytes()
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    assert config["auth"] == "cognito" and config["redirectUri"] == deployed["outputs"]["WebUrl"]
    invalidations = session.client("cloudfront").list_invalidations(DistributionId=deployed["distribution"])
    assert [item["Id"] for item in invalidations["InvalidationList"]["Items"]] == [summary["invalidation"]]
    invalidation = session.client("cloudfront").get_invalidation(DistributionId=deployed["distribution"],
                                                                   Id=summary["invalidation"])
    assert invalidation["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]


def test_a_dry_run_changes_nothing(deployed: dict[str, Any]) -> None:
    session, bucket = deployed["session"], deployed["bucket"]
    summary = tool.publish(session, "soundcanvas", dry_run=True)
    assert "config.json" in summary["files"] and summary["config"]["auth"] == "cognito"
    keys = [obj["Key"] for obj in session.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["assets/pages/removed.js"]
    invalidations = session.client("cloudfront").list_invalidations(DistributionId=deployed["distribution"])
    assert not invalidations["InvalidationList"].get("Items")
