"""The local stack: template.yaml's API, bucket, tables and workflows on loopback, in one process.

    moto's S3 + DynamoDB +    <- wrapped by the gateway (upload policy, URL expiry, S3 events,
    Step Functions app           index Queries that read sorted index keys, Lambda's Invoke API
                                 answered by the in-process handlers) on one port (default 4566)
    the API                   <- API Gateway's routes from template.yaml (default port 3000)
    the WebSocket API         <- the template's API Gateway WebSocket API and its @connections management
                                 endpoint (`local_stack.websocket`); the functions' management endpoint
                                 (WEBSOCKET_ENDPOINT) is rewritten to the local one
    the workflows             <- statemachine/*.asl.json, created through the Step Functions API
                                 with their DefinitionSubstitutions and run by moto's ASL engine
                                 (`local_stack.workflows`); a Task state invokes its function
                                 through the gateway's Lambda Invoke, so the same handlers run it

An S3 "Object Created" event matching a state machine's EventBridge rule starts an execution with
``StartExecution``, at most ``workers`` of those running at once (`local_stack.starter` says why);
the product's own Step Functions calls reach the same moto backend. Retry intervals and Wait
seconds are multiplied by ``time_scale`` (tests shorten them; the definitions are unchanged). A
definition whose tasks the stack cannot run stops `start` with a message naming the state
(`local_stack.workflows.check_definition`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from local_stack import events, s3gate, template, workflows
from local_stack.apigw import ApiServer
from local_stack.functions import FunctionHost
from local_stack.idp import JWKS_PATH, LocalIdentityProvider
from local_stack.starter import ExecutionStarter
from local_stack.webapp import WebApp
from local_stack.websocket import WebSocketServer

log = logging.getLogger("local_stack")
ROOT = Path(__file__).resolve().parent.parent
IDP_KEY = ROOT / ".local-stack" / "idp-key.pem"  # the local identity provider's signing key (not committed)
CREDENTIALS = ("LOCALSTACKKEY000000", "local-stack-secret-key-not-for-aws")
REGION = "us-east-1"
IDLE_POLL_SECONDS = 0.05  # how often wait_idle and execution() ask Step Functions whether executions ended
STOP_WAIT_SECONDS = 60.0  # how long stop() lets running executions finish
LOCAL_WEBHOOK_SECRET_NAME = "soundcanvas-local/stripe-webhook-secret"  # noqa: S105  # pragma: allowlist secret (a name)
DEFAULT_MACHINE_TIMEOUT = 365 * 24 * 3600  # a state machine without TimeoutSeconds may run a year
# Local differences from a deployed function's environment: no X-Ray daemon to send traces to,
# and CloudWatch metrics (EMF lines on stdout) would only clutter the terminal.
LOCAL_DEFAULTS = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}
BUCKET_PROPERTIES = {
    "BucketName", "NotificationConfiguration", "PublicAccessBlockConfiguration", "BucketEncryption",
    "OwnershipControls", "CorsConfiguration", "LifecycleConfiguration",
}
# SES: an identity is created (moto, like SES, refuses mail from an unverified sender) and so is a configuration set;
# these options of a set only matter deployed (reputation metrics, the suppression list), and sending must be on.
EMAIL_IDENTITY_PROPERTIES = {"EmailIdentity"}
CONFIGURATION_SET_PROPERTIES = {"Name", "SendingOptions", "ReputationOptions", "SuppressionOptions"}


class LocalStack:
    """Start with `start()`, stop with `stop()`; or use it as a context manager."""

    def __init__(
        self,
        root: Path = ROOT,
        *,
        host: str = "127.0.0.1",
        api_port: int = 3000,
        aws_port: int = 4566,
        idp_key: Path | None = None,
        time_scale: float = 0.05,
        workers: int = 3,
        env_overrides: dict[str, str] | None = None,
        clock: Any = time.time,
        seed_catalog: bool = True,
        ws_port: int = 0,
    ) -> None:
        self.root, self.host = root, host
        self.api_port, self.aws_port = api_port, aws_port
        self.ws_port = ws_port  # the template's WebSocket API (0: any free port); its management endpoint: any port
        self.ws_url = ""  # ws://host:port/{stage}: connect with ?token=<ID token>
        self.websockets: dict[str, WebSocketServer] = {}
        self.time_scale = time_scale  # Retry intervals and Wait seconds x this (local_stack.workflows)
        self.workers = workers  # executions started by events that run at once (local_stack.starter)
        self.idp = LocalIdentityProvider(idp_key or IDP_KEY)
        self.env_overrides = env_overrides or {}
        self.clock = clock
        self.seed_catalog = seed_catalog  # load Blend's public-domain seed catalog at start (a few seconds)
        self._servers: list[Any] = []
        self.deliver_events = True

    # ------------------------------------------------------------------ start / stop
    def start(self) -> LocalStack:
        started = time.perf_counter()
        warnings.filterwarnings("ignore", "No application metrics to publish")  # metrics are off locally
        self.template = template.load(self.root, region=REGION)
        self.functions = FunctionHost(self.template.functions, clock=self.clock)
        self.machines: dict[str, list[dict[str, Any]]] = {}  # state machine ARN -> its EventBridge rules
        # Everything that must be true is checked before anything listens.
        function_arns = {fn.arn for fn in self.template.functions.values()}
        for spec in self.template.state_machines.values():
            for rule in spec["rules"]:
                events.validate(rule)
            workflows.check_definition(spec["name"], spec["definition"], function_arns)
            self.machines[spec["arn"]] = spec["rules"]
        for name, props in self.template.buckets.items():
            unknown = set(props) - BUCKET_PROPERTIES
            if unknown:
                raise template.TemplateError(f"bucket {name}: properties {sorted(unknown)} are not supported locally")
        _check_ses(self.template)

        gateway = s3gate.Gateway(
            credentials=CREDENTIALS,
            region=REGION,
            on_object_created=self.publish,
            functions={name: functools.partial(self.functions.invoke, name) for name in self.template.functions},
            account=template.ACCOUNT,
            documents={JWKS_PATH: self.idp.jwks},
            clock=self.clock,
        )
        self.gateway = gateway
        server, _ = s3gate.serve(self.host, self.aws_port, gateway)
        self._servers.append(server)
        self.aws_port = int(getattr(server, "port", None) or server.server_port)
        self.endpoint = f"http://{self.host}:{self.aws_port}"
        self._saved_environ = dict(os.environ)  # the handlers share this process's environment
        self._engine = workflows.EngineSwitch(self.endpoint, self.time_scale, CREDENTIALS)
        self._engine.on()
        boto3.DEFAULT_SESSION = None  # it caches credentials: let the handlers' clients read ours
        os.environ.update(self.client_environment())
        os.environ.update(LOCAL_DEFAULTS)
        os.environ.update(self.functions.environment())
        os.environ.update(self.idp.environment(self.endpoint))  # the authorizer trusts the local pool
        os.environ.update(self.env_overrides)
        self._start_websockets()
        self._create_resources()
        if self.seed_catalog and "SongsTable" in self.template.names:
            self._load_seed_catalog()
        self._sfn = self.client("stepfunctions")
        self._create_state_machines()
        longest = max((spec["definition"].get("TimeoutSeconds", DEFAULT_MACHINE_TIMEOUT)
                       for spec in self.template.state_machines.values()), default=DEFAULT_MACHINE_TIMEOUT)
        self._starter = ExecutionStarter(self.start_execution, self._status, limit=self.workers,
                                         max_run_seconds=longest + 60)
        routes = [route for fn in self.template.functions.values() for route in fn.routes]
        self.web = WebApp(config=self.web_config, issue_token=self.idp.issue)
        self.api = ApiServer(routes, self.functions.invoke, cors=self.template.api_cors,
                             authorizer=self.template.authorizer, binary_types=self.template.binary_media_types,
                             webapp=self.web)
        self.api_port = self.api.start(self.host, self.api_port)
        self._stopping = threading.Event()
        for fn in self.template.functions.values():
            for every in fn.schedules:
                threading.Thread(target=self._run_every, args=(fn.name, every), name=f"schedule-{fn.name}",
                                 daemon=True).start()
        self.api_url = f"http://{self.host}:{self.api_port}"
        log.info("local stack up in %.2f s: API %s, WebSocket %s, S3/DynamoDB %s", time.perf_counter() - started,
                 self.api_url, self.ws_url or "-", self.endpoint)
        return self

    def _start_websockets(self) -> None:
        """Serve each WebSocket API of the template, and point the functions' copies of its deployed management
        endpoint (https://{api}.execute-api.{region}.amazonaws.com/...) at the local one."""
        for name, spec in self.template.websocket_apis.items():
            server = WebSocketServer(spec, self.functions.invoke, credentials=CREDENTIALS, region=REGION)
            server.start(self.host, self.ws_port if not self.websockets else 0)
            self.websockets[name] = server
            local_root = server.management_url.rsplit("/", 1)[0]
            for key, value in list(os.environ.items()):
                if value.startswith(spec.deployed_host):
                    os.environ[key] = local_root + value[len(spec.deployed_host):]
        if self.websockets:
            self.ws_url = next(iter(self.websockets.values())).url

    def web_config(self) -> dict[str, Any]:
        """The web app's /config.json: where its API, live progress and uploads are, and how users sign in."""
        return {"auth": "local", "apiUrl": self.api_url, "wsUrl": self.ws_url, "storageUrl": self.endpoint}

    def token(self, user: str, **claims: Any) -> str:
        """An ID token for `user` from the local identity provider (send it as `Authorization: Bearer ...`)."""
        return self.idp.issue(user, now=self.clock(), **claims)

    def client_environment(self) -> dict[str, str]:
        """What a process needs to talk to this stack with boto3 (and PynamoDB)."""
        return {
            "AWS_ACCESS_KEY_ID": CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS[1],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def _run_every(self, function: str, seconds: int) -> None:
        """A Schedule event: invoke the function every `seconds` (real time) until the stack stops."""
        while not self._stopping.wait(seconds):
            try:
                self.functions.invoke(function, scheduled_event(function, self.clock()))
            except Exception:
                log.exception("scheduled run of %s failed", function)

    def stop(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
            self._let_executions_finish()
            self._starter.stop()
        for server in self.websockets.values():
            server.stop()
        if hasattr(self, "api"):
            self.api.stop()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if hasattr(self, "_saved_environ"):
            os.environ.clear()
            os.environ.update(self._saved_environ)
            boto3.DEFAULT_SESSION = None
        if hasattr(self, "_engine"):
            self._engine.off()

    def _let_executions_finish(self) -> None:
        """Executions run in the engine's daemon threads: give running ones time to end before the endpoint
        their tasks call goes away (the runner this replaced waited for them too)."""
        try:
            self.wait_idle(STOP_WAIT_SECONDS)
        except TimeoutError as exc:
            log.warning("stopping with executions still running: %s", exc)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: Any, config: Config | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS[0],
            aws_secret_access_key=CREDENTIALS[1],
            config=config,
        )

    def _create_resources(self) -> None:
        dynamodb, s3 = self.client("dynamodb"), self.client("s3")
        for name, props in self.template.tables.items():
            table_name = self.template.names[name]
            args = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
                                          "LocalSecondaryIndexes") if k in props}
            dynamodb.create_table(TableName=table_name, BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"), **args)
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )
        for name, props in self.template.buckets.items():
            bucket = self.template.names[name]
            s3.create_bucket(Bucket=bucket)
            if "CorsConfiguration" in props:
                rules = [
                    {
                        "AllowedOrigins": r["AllowedOrigins"],
                        "AllowedMethods": r["AllowedMethods"],
                        **({"AllowedHeaders": r["AllowedHeaders"]} if "AllowedHeaders" in r else {}),
                        **({"ExposeHeaders": r["ExposedHeaders"]} if "ExposedHeaders" in r else {}),
                        **({"MaxAgeSeconds": int(r["MaxAge"])} if "MaxAge" in r else {}),
                    }
                    for r in props["CorsConfiguration"]["CorsRules"]
                ]
                s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
            if "LifecycleConfiguration" in props:
                rules = []
                for r in props["LifecycleConfiguration"]["Rules"]:
                    rule: dict[str, Any] = {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": r.get("Prefix", "")}}
                    if "ExpirationInDays" in r:
                        rule["Expiration"] = {"Days": int(r["ExpirationInDays"])}
                    if "AbortIncompleteMultipartUpload" in r:
                        days = int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
                        rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
                    rules.append(rule)
                s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        self._create_billing_secret()

    def _create_billing_secret(self) -> None:
        """Stripe's webhook signing secret, as a deployed stack keeps it: a Secrets Manager secret (in moto, through
        the endpoint) whose name the billing function reads from STRIPE_WEBHOOK_SECRET_NAME. A fresh random
        `whsec_...` each start; tests sign events with `self.stripe_webhook_secret`. A name given in env_overrides
        is left alone (that secret must exist). No Stripe API key is created: POST /billing/checkout answers 503."""
        self.stripe_webhook_secret = ""
        if os.environ.get("STRIPE_WEBHOOK_SECRET_NAME"):
            return
        self.stripe_webhook_secret = f"whsec_{secrets.token_urlsafe(32)}"
        self.client("secretsmanager").create_secret(Name=LOCAL_WEBHOOK_SECRET_NAME,
                                                    SecretString=self.stripe_webhook_secret)
        os.environ["STRIPE_WEBHOOK_SECRET_NAME"] = LOCAL_WEBHOOK_SECRET_NAME
        if self.template.email_identities or self.template.configuration_sets:
            ses = self.client("sesv2")
            for props in self.template.email_identities.values():
                ses.create_email_identity(EmailIdentity=str(props["EmailIdentity"]))  # verified at once locally
            for name in self.template.configuration_sets:
                ses.create_configuration_set(ConfigurationSetName=self.template.names[name])

    def sent_mail(self, to: str | None = None) -> list[dict[str, Any]]:
        """The e-mails the stack's functions sent through SES (moto keeps them, in order), to `to` if given:
        {"messageId", "from", "to", "subject", "body"} each."""
        from moto.core import DEFAULT_ACCOUNT_ID  # the account of requests that name none, as s3gate.backends
        from moto.ses.models import Message, ses_backends

        messages = list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
        mail = [{"messageId": m.id, "from": m.source, "to": list(m.destinations.get("ToAddresses") or []),
                 "subject": m.subject, "body": m.body} for m in messages if isinstance(m, Message)]
        return [m for m in mail if to is None or to in m["to"]]

    def _load_seed_catalog(self) -> None:
        """Blend's seed catalog into SongsTable and the bucket, and its search index: what a deployed stack
        gets from tools/load_catalog.py (soundcanvas.blend.catalog.load_catalog), in a few seconds. The
        records and objects are the same; they are put straight into moto's backends, because 4,000
        PutObject calls over HTTP take 20 s here. The index is built and published by the product's code."""
        from soundcanvas.blend import catalog
        from soundcanvas.blend.seed import read_seed_catalog
        from soundcanvas.blend.songs import SongStore, midi_key

        started = time.perf_counter()
        table, bucket = self.template.names["SongsTable"], self.template.names["MediaBucket"]
        store = SongStore(table, REGION, host=self.endpoint, clock=self.clock)
        seed = list(read_seed_catalog())
        objects, tables = s3gate.backends(REGION)
        for song in seed:
            objects.put_object(bucket, midi_key(song.songId), song.midi)
        for record in store.public_records(catalog.song_record(song) for song in seed):
            tables.put_item(table, record.serialize())
        size = catalog.publish_search_index(store, self.client("s3"), bucket, public=seed)
        log.info("seed catalog: %d songs and a %d KB search index in %.2f s", len(seed), size // 1024,
                 time.perf_counter() - started)

    # ------------------------------------------------------------------ workflow
    def _create_state_machines(self) -> None:
        """Create the template's state machines through the Step Functions API, names and ARNs as resolved."""
        for spec in self.template.state_machines.values():
            name = spec["arn"].rsplit(":", 1)[-1]
            created = self._sfn.create_state_machine(
                name=name, definition=json.dumps(spec["definition"]),
                roleArn=f"arn:aws:iam::{template.ACCOUNT}:role/{name}-role",
            )
            if created["stateMachineArn"] != spec["arn"]:
                raise template.TemplateError(f"state machine {name} was created as {created['stateMachineArn']}, "
                                             f"not {spec['arn']} as the template resolves it")

    def publish(self, event: dict[str, Any]) -> list[str]:
        """Deliver an event to the default bus: start every state machine whose rule matches (its execution ARNs)."""
        started: list[str] = []
        if not self.deliver_events:
            return started
        for arn, rules in self.machines.items():
            if any(events.matches(rule, event) for rule in rules):
                started.append(self._starter.submit(arn, str(uuid.uuid4()), json.dumps(event)))
        return started

    def start_execution(self, machine_arn: str, input_text: str, name: str | None = None) -> str:
        """StartExecution now (events go through the starter's queue); a new execution name unless one is given."""
        started = self._sfn.start_execution(stateMachineArn=machine_arn, name=name or str(uuid.uuid4()),
                                            input=input_text)
        return str(started["executionArn"])

    def _status(self, arn: str) -> str:
        return str(self._sfn.describe_execution(executionArn=arn)["status"])

    def execution(self, arn: str, timeout: float = 120.0) -> dict[str, Any]:
        """DescribeExecution once the execution has ended (raises TimeoutError if it runs past `timeout`)."""
        deadline = time.monotonic() + timeout
        if not self._starter.wait_started(arn, timeout):
            raise TimeoutError(f"execution {arn} still queued after {timeout} s")
        while True:
            described: dict[str, Any] = self._sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() >= deadline:
                raise TimeoutError(f"execution {arn} still running after {timeout} s")
            time.sleep(IDLE_POLL_SECONDS)

    def history(self, arn: str, timeout: float = 120.0) -> list[dict[str, Any]]:
        """GetExecutionHistory of an execution, once it has ended, every page."""
        self.execution(arn, timeout)
        pages = self._sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return [event for page in pages for event in page["events"]]

    def running(self) -> list[str]:
        """The ARNs of the executions queued or running, of every state machine (ListStateMachines, ListExecutions)."""
        machines = [m["stateMachineArn"] for page in self._sfn.get_paginator("list_state_machines").paginate()
                    for m in page["stateMachines"]]
        listing = self._sfn.get_paginator("list_executions")
        return self._starter.queued() + [execution["executionArn"] for arn in machines
                                         for page in listing.paginate(stateMachineArn=arn, statusFilter="RUNNING")
                                         for execution in page["executions"]]

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Block until every started execution has finished (tests and the demo use it)."""
        deadline = time.monotonic() + timeout
        while running := self.running():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(running)} executions still running after {timeout} s")
            time.sleep(IDLE_POLL_SECONDS)


def _check_ses(sam: template.LocalTemplate) -> None:
    """Refuse SES resources the stack would not reproduce (an identity's other options, sending turned off)."""
    for name, props in sam.email_identities.items():
        unknown = set(props) - EMAIL_IDENTITY_PROPERTIES
        if unknown:
            raise template.TemplateError(f"email identity {name}: properties {sorted(unknown)} are not supported locally")
    for name, props in sam.configuration_sets.items():
        unknown = set(props) - CONFIGURATION_SET_PROPERTIES
        if unknown:
            raise template.TemplateError(f"configuration set {name}: properties {sorted(unknown)} are not supported "
                                         "locally")
        if str((props.get("SendingOptions") or {}).get("SendingEnabled", True)).lower() == "false":
            raise template.TemplateError(f"configuration set {name}: sending turned off is not reproduced locally")


def scheduled_event(function: str, now: float) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:000000000000:rule/{function}-schedule"],
        "detail": {},
    }
