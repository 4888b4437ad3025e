"""The deployed web app's resources in template.yaml, as the local stack sees them: accepted, the web bucket
not created (local_stack/webapp.py serves web/ instead), and CloudFront's security headers the ones the
local web app server sends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local_stack import template
from local_stack.webapp import SECURITY_HEADERS, WebApp

ROOT = Path(__file__).resolve().parents[3]


def edited_repo(tmp_path: Path, old: str, new: str) -> Path:
    """A repository whose template.yaml has `old` replaced by `new` (the code it names linked, not copied)."""
    for name in ("statemachine", "functions", "layers"):
        (tmp_path / name).symlink_to(ROOT / name)
    text = (ROOT / "template.yaml").read_text()
    assert old in text
    (tmp_path / "template.yaml").write_text(text.replace(old, new, 1))
    return tmp_path


def resource(sam_template: template.LocalTemplate, name: str) -> dict[str, Any]:
    props: dict[str, Any] = sam_template.raw["Resources"][name]["Properties"]
    return props


def directives(policy: str) -> dict[str, set[str]]:
    parsed = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            parsed[name] = set(sources)
    return parsed


def fixed(sources: set[str]) -> set[str]:
    """The sources that are not a host of the stack: keywords and schemes."""
    return {s for s in sources if s.startswith("'") or s.endswith(":")}


def test_the_bucket_cloudfront_serves_is_not_created_locally(sam_template: template.LocalTemplate) -> None:
    assert sam_template.web_buckets == {"WebBucket"}
    assert "WebBucket" not in sam_template.buckets and "WebBucket" not in sam_template.names
    assert "MediaBucket" in sam_template.buckets


def test_the_web_resources_are_deploy_only_and_a_bucket_no_distribution_serves_is_created(tmp_path: Path) -> None:
    root = edited_repo(tmp_path, "DomainName: !GetAtt WebBucket.RegionalDomainName", "DomainName: example.org")
    loaded = template.load(root, region="us-east-1")
    assert loaded.web_buckets == set() and "WebBucket" in loaded.buckets
    kinds = {res["Type"] for res in loaded.raw["Resources"].values()}
    assert {"AWS::CloudFront::Distribution", "AWS::CloudFront::OriginAccessControl",
            "AWS::CloudFront::ResponseHeadersPolicy", "AWS::Cognito::UserPoolDomain"} <= kinds
    assert kinds <= template.EMULATED | set(template.DEPLOY_ONLY)


def test_cloudfront_sends_the_security_headers_the_local_server_sends(sam_template: template.LocalTemplate) -> None:
    config = resource(sam_template, "WebSecurityHeaders")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert config["ContentTypeOptions"]["Override"] and SECURITY_HEADERS["X-Content-Type-Options"] == "nosniff"
    assert config["FrameOptions"]["FrameOption"] == SECURITY_HEADERS["X-Frame-Options"]
    assert config["ReferrerPolicy"]["ReferrerPolicy"] == SECURITY_HEADERS["Referrer-Policy"]
    assert config["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000  # a year at least
    deployed = directives(config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    local_app = WebApp(config=lambda: {"auth": "local", "apiUrl": "http://127.0.0.1:3000",
                                       "wsUrl": "ws://127.0.0.1:3001/v1", "storageUrl": "http://127.0.0.1:4566"},
                       issue_token=lambda *a, **k: "")
    local = directives(local_app.content_security_policy())
    assert set(deployed) == set(local)
    for name, sources in local.items():
        assert fixed(deployed[name]) == fixed(sources), name
    assert deployed["script-src"] == {"'self'"} and deployed["style-src"] == {"'self'"}
    media = "https://${MediaBucket.RegionalDomainName}"
    assert {media} <= deployed["img-src"] & deployed["media-src"] & deployed["connect-src"]
    assert "wss://${LiveProgressApi}.execute-api.${AWS::Region}.amazonaws.com" in deployed["connect-src"]
    # the hosted UI's token endpoint, which the app calls after the redirect back
    assert "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com" in deployed["connect-src"]


def test_only_the_distribution_reads_the_private_web_bucket(sam_template: template.LocalTemplate) -> None:
    bucket = resource(sam_template, "WebBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert "WebsiteConfiguration" not in bucket
    statements = resource(sam_template, "WebBucketPolicy")["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert re.search(r":distribution/\$\{WebDistribution\}$", source)
    distribution = resource(sam_template, "WebDistribution")["DistributionConfig"]
    (origin,) = distribution["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert distribution["DefaultRootObject"] == "index.html"
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


@pytest.mark.parametrize("kind", ["AWS::CloudFront::Function", "AWS::CloudFront::CachePolicy"])
def test_other_cloudfront_resources_still_stop_the_stack(tmp_path: Path, kind: str) -> None:
    root = edited_repo(tmp_path, "\nResources:\n", f"\nResources:\n  Extra:\n    Type: {kind}\n    Properties: {{}}\n")
    with pytest.raises(template.TemplateError, match=f"resource Extra: type {kind} is not supported"):
        template.load(root, region="us-east-1")
