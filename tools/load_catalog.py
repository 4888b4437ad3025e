"""Load Blend's public-domain seed catalog into a deployed stack (the local stack loads it at start).

    python tools/load_catalog.py --stack-name soundcanvas [--region eu-west-1] [--limit N]

Reads the stack's outputs (SongsTableName, MediaBucketName) with CloudFormation, then puts every
song's MIDI under catalog/{songId}/song.mid, writes the song records and rebuilds the search index
(soundcanvas.blend.catalog). Idempotent: running it again rewrites the same songs. Uses the AWS
credentials of the environment (an AWS profile or SSO session allowed to write the table and bucket).
"""

from __future__ import annotations

import argparse
import itertools
import sys

import boto3

from soundcanvas.blend.catalog import load_catalog
from soundcanvas.blend.seed import read_seed_catalog
from soundcanvas.blend.songs import SongStore


def stack_outputs(stack_name: str, region: str | None) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", region_name=region)
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region")
    parser.add_argument("--limit", type=int, help="load only the first N songs (a quick check)")
    args = parser.parse_args(argv)
    outputs = stack_outputs(args.stack_name, args.region)
    missing = [name for name in ("SongsTableName", "MediaBucketName") if name not in outputs]
    if missing:
        sys.stderr.write(f"stack {args.stack_name} has no outputs {', '.join(missing)}: "
                         "deploy this version of template.yaml first\n")
        return 2
    region = args.region or boto3.session.Session().region_name or "us-east-1"
    store = SongStore(outputs["SongsTableName"], region)
    songs = read_seed_catalog()
    if args.limit:
        songs = itertools.islice(songs, args.limit)
    report = load_catalog(songs, store, boto3.client("s3", region_name=region), outputs["MediaBucketName"])
    sys.stdout.write(f"loaded {report.songs} songs and a {report.index_bytes // 1024} KB search index "
                     f"in {report.seconds:.1f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
