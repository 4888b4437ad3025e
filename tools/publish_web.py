"""Publish the web app (web/) to a deployed stack: read the stack's outputs, write config.json from them
(sign-in through the Cognito hosted UI), upload web/ to the private WebBucket with each file's
Content-Type and Cache-Control, remove files web/ no longer has, and invalidate the CloudFront
distribution so the new files are served at once (docs/web-app.md#deployed).

    python tools/publish_web.py                          # the stack and region samconfig.toml names
    python tools/publish_web.py --stack-name soundcanvas-dev --region eu-west-1
    python tools/publish_web.py --dry-run                # print config.json and the files; change nothing

Run it after `sam deploy` (`make publish-web`); it uses the AWS credentials boto3 finds.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
WEB_ROOT = ROOT / "web"
SAMCONFIG = ROOT / "samconfig.toml"
CONFIG_KEY = "config.json"
# index.html and config.json are revalidated on every load (they name everything else and where the stack
# is); the other files are not fingerprinted, so browsers keep them only briefly. CloudFront keeps what
# these say (managed CachingOptimized honours Cache-Control), and each publish invalidates /*.
NO_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"
ALWAYS_FRESH = {"index.html", CONFIG_KEY}
# Module scripts must be served as JavaScript and stylesheets as CSS (the app is sent with nosniff), so
# the types the app uses are fixed here rather than taken from the machine's MIME table.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
# The stack outputs config.json and the upload need (template.yaml, Outputs).
CONFIG_OUTPUTS = {
    "authUrl": "AuthUrl",
    "clientId": "UserPoolClientId",
    "redirectUri": "WebUrl",
    "apiUrl": "ApiUrl",
    "wsUrl": "WebSocketUrl",
    "storageUrl": "StorageUrl",
}
UPLOAD_OUTPUTS = ("WebBucketName", "WebDistributionId")


class PublishError(Exception):
    """The stack or web/ is not ready to publish; the message says what is missing."""


@dataclass(frozen=True)
class Upload:
    key: str  # the object key, which is the URL path: the bucket's layout is web/'s
    body: bytes
    content_type: str
    cache_control: str


def stack_from_samconfig(text: str, config_env: str = "default") -> tuple[str, str | None]:
    """The stack name and region `sam deploy` uses: the deploy command's parameters, then the global ones."""
    environment = tomllib.loads(text).get(config_env) or {}
    merged: dict[str, Any] = {}
    for command in ("global", "deploy"):
        merged.update(((environment.get(command) or {}).get("parameters")) or {})
    if not merged.get("stack_name"):
        raise PublishError(f"samconfig.toml names no stack_name for [{config_env}]: pass --stack-name")
    region = merged.get("region")
    return str(merged["stack_name"]), str(region) if region else None


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    """A DescribeStacks stack's outputs as {OutputKey: OutputValue}."""
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs") or []}


def _require(outputs: dict[str, str], keys: Iterable[str]) -> None:
    missing = sorted(set(keys) - {k for k, v in outputs.items() if v})
    if missing:
        raise PublishError(f"the stack has no output {', '.join(missing)}: deploy the current template.yaml first")


def web_config(outputs: dict[str, str]) -> dict[str, str]:
    """config.json for the deployed app: sign-in through the hosted UI, and where the API, the live
    progress WebSocket and the media bucket are."""
    _require(outputs, CONFIG_OUTPUTS.values())
    config = {"auth": "cognito"}
    for field, output in CONFIG_OUTPUTS.items():
        value = outputs[output]
        # the app appends "/generations" to apiUrl and "/oauth2/token" to authUrl
        config[field] = value if field == "redirectUri" else value.rstrip("/")
    return config


def content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    known = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0]
    if not known:
        raise PublishError(f"web/{key}: no content type for {suffix or 'a file without an extension'}; "
                           "add it to CONTENT_TYPES in tools/publish_web.py")
    return known


def cache_control(key: str) -> str:
    return NO_CACHE if key in ALWAYS_FRESH else ASSET_CACHE


def web_files(root: Path) -> list[str]:
    """Every file of web/ to publish, as its key: hidden files (.DS_Store, editor files) and a config.json
    left in web/ are not (config.json is written from the stack)."""
    keys = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if relative.as_posix() == CONFIG_KEY:
            continue
        keys.append(relative.as_posix())
    return keys


def plan(root: Path, config: dict[str, str]) -> list[Upload]:
    """What to upload, in order: the assets, then config.json, then index.html last, so a page that loads
    the new index.html finds every file it names."""
    keys = web_files(root)
    if "index.html" not in keys:
        raise PublishError(f"{root}/index.html is missing")
    uploads = [Upload(key, (root / key).read_bytes(), content_type(key), cache_control(key))
               for key in keys if key != "index.html"]
    uploads.append(Upload(CONFIG_KEY, json.dumps(config, indent=2).encode() + b"\n", content_type(CONFIG_KEY),
                          cache_control(CONFIG_KEY)))
    uploads.append(Upload("index.html", (root / "index.html").read_bytes(), content_type("index.html"),
                          cache_control("index.html")))
    return uploads


def stale_keys(existing: Iterable[str], uploads: Iterable[Upload]) -> list[str]:
    """Objects in the bucket that web/ no longer has."""
    return sorted(set(existing) - {upload.key for upload in uploads})


def upload(s3: Any, bucket: str, uploads: list[Upload]) -> list[str]:
    """Put every file, then delete what web/ no longer has; returns the deleted keys."""
    for item in uploads:
        s3.put_object(Bucket=bucket, Key=item.key, Body=item.body, ContentType=item.content_type,
                      CacheControl=item.cache_control)
    existing = [obj["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for obj in page.get("Contents") or []]
    stale = stale_keys(existing, uploads)
    for start in range(0, len(stale), 1000):  # DeleteObjects takes at most 1,000 keys
        batch = stale[start:start + 1000]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
    return stale


def invalidate(cloudfront: Any, distribution_id: str, reference: str) -> str:
    """Invalidate every path (one path, `/*`, counts as one against CloudFront's free monthly allowance)."""
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": reference},
    )
    return str(answer["Invalidation"]["Id"])


def publish(session: Any, stack_name: str, root: Path = WEB_ROOT, *, dry_run: bool = False) -> dict[str, Any]:
    """Publish web/ to the stack's web bucket; returns what was done (for the summary)."""
    stacks = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = outputs_of(stacks[0])
    config = web_config(outputs)
    _require(outputs, UPLOAD_OUTPUTS)
    uploads = plan(root, config)
    summary: dict[str, Any] = {"stack": stack_name, "url": outputs["WebUrl"], "bucket": outputs["WebBucketName"],
                               "config": config, "files": [u.key for u in uploads]}
    if dry_run:
        return summary
    summary["deleted"] = upload(session.client("s3"), outputs["WebBucketName"], uploads)
    summary["invalidation"] = invalidate(session.client("cloudfront"), outputs["WebDistributionId"],
                                         f"publish-web-{time.time_ns()}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", help="the deployed stack (default: samconfig.toml's stack_name)")
    parser.add_argument("--region", help="its region (default: samconfig.toml's, else boto3's)")
    parser.add_argument("--config-env", default="default", help="the samconfig.toml environment (default: default)")
    parser.add_argument("--dry-run", action="store_true", help="print config.json and the files; change nothing")
    args = parser.parse_args(argv)
    try:
        stack_name, region = args.stack_name, args.region
        if not stack_name:
            stack_name, configured = stack_from_samconfig(SAMCONFIG.read_text(), args.config_env)
            region = region or configured
        summary = publish(boto3.session.Session(region_name=region), stack_name, dry_run=args.dry_run)
    except (PublishError, ClientError, BotoCoreError) as error:
        sys.stderr.write(f"publish-web: {error}\n")
        return 1
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
