"""Command line for the local stack.

    python -m local_stack up        [--api-port 3000] [--aws-port 4566] [--ws-port 3001]
    python -m local_stack token     USER [--group admin]  # an ID token: send it as Authorization: Bearer <token>
    python -m local_stack demo      [--image events/generation/images/sunset.jpg] [--genre lofi] [--duration 60]
    python -m local_stack demo      --blend "drowsy maggie" "harvest home" "wachet auf" [--duration 60] [--seed 7]
    python -m local_stack invoke    FUNCTION -e events/x.json
    python -m local_stack invoke    FUNCTION -e events/x.json --then FUNCTION events/y.json ...  # one stack, in turn
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from local_stack import invoke
from local_stack.demo import run as run_demo
from local_stack.demo import run_blend, run_maps, say
from local_stack.idp import LocalIdentityProvider
from local_stack.stack import IDP_KEY, ROOT, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="serve the API and S3/DynamoDB on loopback until Ctrl-C")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--aws-port", type=int, default=4566)
    up.add_argument("--ws-port", type=int, default=3001, help="the WebSocket API (live progress)")
    demo = commands.add_parser("demo", help="run the main job end to end and show the result")
    demo.add_argument("--image", type=Path, default=ROOT / "events/generation/images/sunset.jpg")
    demo.add_argument("--out", type=Path, default=ROOT / "out")
    demo.add_argument("--genre")
    demo.add_argument("--mode", default="heuristic", choices=("heuristic", "model"))
    demo.add_argument("--duration", type=int, default=60)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--blend", nargs="+", metavar="SONG",
                      help="blend these songs of the seed catalog (2-4 titles or artists; typos are fine) instead")
    demo.add_argument("--maps", type=Path, metavar="RECORDING",
                      help="Maps instead: fingerprint this MP3 into the library, map its drums, identify a snippet")
    demo.add_argument("--creativity", type=float, default=0.7, help="with --blend: 0 (close) to 1 (free)")
    demo.add_argument("--temperature", type=float, default=0.8, help="with --blend: 0.1 (safe) to 2.0 (wild)")
    tok = commands.add_parser("token", help="print an ID token for a user (send it as Authorization: Bearer ...)")
    tok.add_argument("user")
    tok.add_argument("--hours", type=float, default=1.0)
    tok.add_argument("--group", action="append", default=[], metavar="GROUP",
                     help="a user pool group in the token's cognito:groups (e.g. admin); repeat for more")
    inv = commands.add_parser("invoke", help="invoke a function with an event file (like sam local invoke), "
                                             "or several in turn on one stack (--then)")
    inv.add_argument("function", help="logical id in template.yaml, e.g. AnalyzeFunction")
    inv.add_argument("-e", "--event", type=Path, required=True)
    inv.add_argument("--then", nargs=2, action="append", default=[], metavar=("FUNCTION", "EVENT"),
                     help="then invoke this function with this event on the same stack (repeat for more): each "
                          "result is printed after a line '== FUNCTION EVENT'")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    if args.command == "demo":
        logging.getLogger().setLevel(logging.WARNING)
        if args.maps:
            return run_maps(args.maps, args.out)
        if args.blend:
            return run_blend(args.blend, args.out, {"lengthSeconds": args.duration, "seed": args.seed,
                                                    "creativity": args.creativity, "temperature": args.temperature})
        options = {"durationSeconds": args.duration, "mode": args.mode, "seed": args.seed}
        if args.genre:
            options["genre"] = args.genre
        return run_demo(args.image, args.out, options)
    if args.command == "invoke":
        logging.getLogger().setLevel(logging.WARNING)
        if not args.then:
            result = invoke.invoke(args.function, json.loads(args.event.read_text()))
            say(json.dumps(result, indent=2, default=str))
            return 0
        calls = [(args.function, args.event), *((function, Path(event)) for function, event in args.then)]
        results = invoke.invoke_chain([(function, json.loads(event.read_text())) for function, event in calls])
        for (function, event), result in zip(calls, results, strict=True):
            say(f"== {function} {event}")
            say(json.dumps(result, indent=2, default=str))
        return 0
    if args.command == "token":
        groups = {"cognito:groups": args.group} if args.group else {}
        say(LocalIdentityProvider(IDP_KEY).issue(args.user, seconds=int(args.hours * 3600), **groups))
        return 0
    stack = LocalStack(host=args.host, api_port=args.api_port, aws_port=args.aws_port, ws_port=args.ws_port)
    stack.start()
    say(f"Web app      {stack.api_url}/   (open it in a browser; sign in with any user name)")
    say(f"API          {stack.api_url}   (send Authorization: Bearer $(python -m local_stack token <user>))")
    if stack.ws_url:
        say(f"WebSocket    {stack.ws_url}?token=$(python -m local_stack token <user>)   (live progress: "
            "docs/clients.md)")
    say(f"S3/DynamoDB  {stack.endpoint}  (AWS_ENDPOINT_URL for boto3 and the AWS CLI)")
    say("credentials  " + " ".join(f"{k}={v}" for k, v in stack.client_environment().items() if "KEY" in k))
    say("Ctrl-C stops.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
