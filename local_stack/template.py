"""Read template.yaml and resolve what the local stack needs from it: parameters, intrinsic
functions, functions with their environment and API events, tables, the bucket and the state
machine. Anything the local stack cannot reproduce stops it here, at start, with a clear message."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "000000000000"

# Resource types the local stack reproduces, and those that only matter when deployed.
EMULATED = {
    "AWS::Serverless::Function",
    "AWS::Serverless::StateMachine",
    "AWS::Serverless::Api",
    "AWS::Serverless::LayerVersion",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SES::EmailIdentity",
    "AWS::SES::ConfigurationSet",
    # a WebSocket API (local_stack/websocket.py): the API, its stage, routes, Lambda proxy integrations, route responses
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::RouteResponse",
}
DEPLOY_ONLY = {
    "AWS::Cognito::UserPool": "the local identity provider (local_stack/idp.py) signs the tokens locally",
    "AWS::Cognito::UserPoolClient": "the local identity provider (local_stack/idp.py) signs the tokens locally",
    "AWS::S3::BucketPolicy": "the local endpoint is plain HTTP on loopback",
    "AWS::Logs::LogGroup": "local logs go to the terminal",
    "AWS::Lambda::Permission": "the local APIs call the handlers in process",
    "AWS::IAM::ManagedPolicy": "the local stack checks no IAM permissions",
    # The web app: local_stack/webapp.py serves web/ at the API's port, with the same security headers, and signs
    # users in itself; the bucket a distribution serves from is not created (see _web_buckets).
    "AWS::CloudFront::Distribution": "the web app server (local_stack/webapp.py) serves web/ instead",
    "AWS::CloudFront::OriginAccessControl": "the web app server (local_stack/webapp.py) serves web/ instead",
    "AWS::CloudFront::ResponseHeadersPolicy": "the web app server (local_stack/webapp.py) sends the headers instead",
    "AWS::Cognito::UserPoolDomain": "the web app server signs users in instead (POST /_local/token)",
}


class TemplateError(ValueError):
    """template.yaml uses something the local stack cannot reproduce."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that turns CloudFormation short-form tags into their long form. libyaml's parser when PyYAML
    has it (its wheels do): the same document in a tenth of the time, which every local stack's start pays."""


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


_Loader.add_constructor("!Ref", _tag("Ref"))
_Loader.add_constructor("!Condition", _tag("Condition"))
for _short in ("Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
               "ImportValue", "Base64", "Cidr", "GetAZs"):
    _Loader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


@dataclass
class ApiRoute:
    function: str
    method: str  # upper case, or ANY
    path: str  # /generations/{jobId}
    authorizer: bool  # False when Auth.Authorizer is NONE

    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$")


@dataclass
class FunctionSpec:
    name: str
    code_dir: Path
    handler: str  # module.function
    layers: list[Path]
    environment: dict[str, str]
    timeout: int
    memory: int
    routes: list[ApiRoute] = field(default_factory=list)
    schedules: list[int] = field(default_factory=list)  # Schedule events: every N seconds

    @property
    def arn(self) -> str:
        return function_arn(self.name)


@dataclass
class LocalTemplate:
    root: Path
    raw: dict[str, Any]
    parameters: dict[str, str]
    names: dict[str, str]  # logical id -> physical name (tables, bucket, state machine)
    functions: dict[str, FunctionSpec]
    tables: dict[str, dict[str, Any]]  # logical id -> resolved Properties
    buckets: dict[str, dict[str, Any]]
    state_machines: dict[str, dict[str, Any]]  # logical id -> {definition, rules: [event patterns]}
    api_cors: dict[str, str]
    binary_media_types: list[str] = field(default_factory=list)  # e.g. multipart/form-data
    authorizer: TokenAuthorizer | None = None  # the API's default authorizer
    email_identities: dict[str, dict[str, Any]] = field(default_factory=dict)  # SES: logical id -> Properties
    configuration_sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # SES: logical id -> Properties
    websocket_apis: dict[str, WebSocketApi] = field(default_factory=dict)  # logical id -> the API
    web_buckets: set[str] = field(default_factory=set)  # buckets CloudFront serves the web app from: not created


@dataclass
class WebSocketApi:
    """An API Gateway WebSocket API: its stage, which message field picks the route, each route's function
    (Lambda proxy), the routes whose function's answer goes back to the client (a route response), and the
    management endpoint the deployed functions are given (rewritten to the local one at start)."""

    name: str
    stage: str
    selection_field: str  # RouteSelectionExpression $request.body.<field>
    routes: dict[str, str]  # route key ($connect, $disconnect, $default, subscribe...) -> function
    two_way: set[str]  # route keys with a route response
    deployed_host: str  # https://{api}.execute-api.{region}.amazonaws.com


@dataclass(frozen=True)
class TokenAuthorizer:
    """A Lambda TOKEN authorizer: the function, the header it reads, how long an answer is cached."""

    function: str
    header: str
    cache_seconds: int


def function_arn(name: str, region: str = "us-east-1") -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


class _Resolver:
    def __init__(self, raw: dict[str, Any], parameters: dict[str, str], names: dict[str, str], region: str) -> None:
        self.raw, self.parameters, self.names, self.region = raw, parameters, names, region

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::StackName": "soundcanvas-local",
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.names:
            return self.names[name]
        resource = self.raw["Resources"].get(name)
        if resource is None:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            return name
        if kind == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:{self.region}:{ACCOUNT}:stateMachine:{name}"
        if kind == "AWS::SES::EmailIdentity":  # CloudFormation's Ref: the identity (an address or a domain)
            return str(self.resolve(resource["Properties"]["EmailIdentity"]))
        if kind == "AWS::ApiGatewayV2::Stage":  # CloudFormation's Ref: the stage name
            return str(self.resolve(resource["Properties"]["StageName"]))
        return name

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.raw["Resources"].get(name)
        if resource is None:
            raise TemplateError(f"!GetAtt {name}.{attribute}: no such resource")
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function" and attribute == "Arn":
            return function_arn(name, self.region)
        if kind == "AWS::Serverless::StateMachine" and attribute == "Name":
            return name
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind in ("AWS::Logs::LogGroup", "AWS::Cognito::UserPool", "AWS::DynamoDB::Table") and attribute == "Arn":
            return f"arn:aws:local:{self.region}:{ACCOUNT}:{name}"
        raise TemplateError(f"!GetAtt {name}.{attribute} is not supported by the local stack")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1), variables), template)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"intrinsic function {key} is not supported by the local stack")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_var(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(variables[name])
        if "." in name:
            resource, attribute = name.split(".", 1)
            return self.get_att(resource, attribute)
        return self.ref(name)


def load(root: Path, *, region: str, overrides: dict[str, str] | None = None) -> LocalTemplate:
    """Parse template.yaml under root and resolve everything the local stack runs."""
    raw = yaml.load((root / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506 (SafeLoader subclass)
    parameters = {name: str(spec.get("Default", "")) for name, spec in (raw.get("Parameters") or {}).items()}
    parameters.update(overrides or {})
    resources: dict[str, Any] = raw["Resources"]
    problems = [
        f"resource {name}: type {res['Type']} is not supported by the local stack"
        for name, res in resources.items()
        if res["Type"] not in EMULATED and res["Type"] not in DEPLOY_ONLY
    ]
    if problems:
        raise TemplateError("; ".join(problems))
    web_buckets = _web_buckets(resources)
    names = {
        name: f"soundcanvas-local-{name.lower()}"
        for name, res in resources.items()
        if res["Type"] in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SES::ConfigurationSet")
        and name not in web_buckets
    }
    for name, res in resources.items():  # a configuration set named in the template keeps its name (a plain string)
        given = (res.get("Properties") or {}).get("Name")
        if res["Type"] == "AWS::SES::ConfigurationSet" and isinstance(given, str):
            names[name] = given
    resolver = _Resolver(raw, parameters, names, region)
    globals_fn = (raw.get("Globals") or {}).get("Function", {})
    global_env = resolver.resolve((globals_fn.get("Environment") or {}).get("Variables", {}))
    layers = {
        name: root / res["Properties"]["ContentUri"]
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    functions: dict[str, FunctionSpec] = {}
    tables: dict[str, dict[str, Any]] = {}
    buckets: dict[str, dict[str, Any]] = {}
    machines: dict[str, dict[str, Any]] = {}
    api_cors: dict[str, str] = {}
    binary_types: list[str] = []
    authorizer: TokenAuthorizer | None = None
    identities: dict[str, dict[str, Any]] = {}
    configuration_sets: dict[str, dict[str, Any]] = {}
    for name, res in resources.items():
        props = res.get("Properties") or {}
        kind = res["Type"]
        if name in web_buckets:
            continue
        if kind == "AWS::Serverless::Function":
            functions[name] = _function(root, name, res, props, globals_fn, global_env, layers, resolver)
        elif kind == "AWS::DynamoDB::Table":
            tables[name] = resolver.resolve(props)
        elif kind == "AWS::S3::Bucket":
            buckets[name] = resolver.resolve(props)
        elif kind == "AWS::Serverless::StateMachine":
            machines[name] = _state_machine(root, name, props, resolver)
        elif kind == "AWS::SES::EmailIdentity":
            identities[name] = resolver.resolve(props)
        elif kind == "AWS::SES::ConfigurationSet":
            configuration_sets[name] = resolver.resolve(props)
        elif kind == "AWS::Serverless::Api":
            api_cors = {k: str(v).strip("'") for k, v in (props.get("Cors") or {}).items()}
            binary_types = [str(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or []]
            authorizer = _token_authorizer(name, props.get("Auth") or {})
    return LocalTemplate(root, raw, parameters, names, functions, tables, buckets, machines, api_cors, binary_types,
                         authorizer, identities, configuration_sets,
                         websocket_apis=_websocket_apis(resources, set(functions), resolver, region),
                         web_buckets=web_buckets)


def _web_buckets(resources: dict[str, Any]) -> set[str]:
    """The buckets that are a CloudFront distribution's origin (`DomainName: !GetAtt <bucket>.RegionalDomainName`):
    the web app's files. Locally local_stack/webapp.py serves them from web/, so these buckets are not created."""
    found: set[str] = set()
    for res in resources.values():
        if res["Type"] != "AWS::CloudFront::Distribution":
            continue
        for origin in ((res.get("Properties") or {}).get("DistributionConfig") or {}).get("Origins") or []:
            domain = origin.get("DomainName")
            target = domain.get("Fn::GetAtt") if isinstance(domain, dict) else None
            parts = target if isinstance(target, list) else str(target or "").split(".", 1)
            if resources.get(parts[0], {}).get("Type") == "AWS::S3::Bucket":
                found.add(parts[0])
    return found


def _websocket_apis(resources: dict[str, Any], functions: set[str], resolver: _Resolver,
                    region: str) -> dict[str, WebSocketApi]:
    """Each AWS::ApiGatewayV2::Api of protocol WEBSOCKET with its stage, routes and route responses; what the
    local server cannot reproduce (another protocol or selection expression, a non-Lambda-proxy integration,
    an authorizer, several stages) stops the stack here."""
    def of(kind: str, api: str) -> dict[str, dict[str, Any]]:
        return {name: resolver.resolve(res.get("Properties") or {}) for name, res in resources.items()
                if res["Type"] == kind and resolver.resolve((res.get("Properties") or {}).get("ApiId")) == api}

    apis: dict[str, WebSocketApi] = {}
    for name, res in resources.items():
        if res["Type"] != "AWS::ApiGatewayV2::Api":
            continue
        props = res.get("Properties") or {}
        expression = str(props.get("RouteSelectionExpression", ""))
        match = re.fullmatch(r"\$request\.body\.(\w+)", expression)
        if props.get("ProtocolType") != "WEBSOCKET" or not match:
            raise TemplateError(f"API {name}: only WEBSOCKET APIs routed by $request.body.<field> run locally")
        api_id = resolver.ref(name)
        stages = of("AWS::ApiGatewayV2::Stage", api_id)
        if len(stages) != 1:
            raise TemplateError(f"API {name}: the local stack serves exactly one stage, found {len(stages)}")
        targets: dict[str, str] = {}
        for integration, spec in of("AWS::ApiGatewayV2::Integration", api_id).items():
            found = re.search(r":function:([^/:]+)/invocations$", str(spec.get("IntegrationUri", "")))
            if spec.get("IntegrationType") != "AWS_PROXY" or not found or found[1] not in functions:
                raise TemplateError(f"integration {integration}: only Lambda proxy integrations of this template's "
                                    "functions run locally")
            targets[f"integrations/{integration}"] = found[1]
        routes: dict[str, str] = {}
        route_keys: dict[str, str] = {}
        for route, spec in of("AWS::ApiGatewayV2::Route", api_id).items():
            if spec.get("AuthorizationType", "NONE") != "NONE" or str(spec.get("Target")) not in targets:
                raise TemplateError(f"route {route}: the local stack runs routes with AuthorizationType NONE and a "
                                    "Lambda proxy integration of this API")
            routes[str(spec["RouteKey"])] = targets[str(spec["Target"])]
            route_keys[route] = str(spec["RouteKey"])
        two_way = {route_keys[str(spec["RouteId"])] for spec in of("AWS::ApiGatewayV2::RouteResponse", api_id).values()}
        (stage,) = stages.values()
        apis[name] = WebSocketApi(name, str(stage["StageName"]), match[1], routes, two_way,
                                  f"https://{api_id}.execute-api.{region}.amazonaws.com")
    return apis


def _token_authorizer(api: str, auth: dict[str, Any]) -> TokenAuthorizer | None:
    default = auth.get("DefaultAuthorizer")
    if not default:
        return None
    spec = (auth.get("Authorizers") or {}).get(default) or {}
    function_arn = spec.get("FunctionArn") or {}
    function = function_arn.get("Fn::GetAtt", [None])[0] if isinstance(function_arn, dict) else None
    if spec.get("FunctionPayloadType", "TOKEN") != "TOKEN" or not function:
        raise TemplateError(f"API {api}: authorizer {default} must be a Lambda TOKEN authorizer (FunctionArn: !GetAtt "
                            "Fn.Arn) to run locally")
    identity = spec.get("Identity") or {}
    return TokenAuthorizer(str(function), str(identity.get("Header", "Authorization")),
                           int(identity.get("ReauthorizeEvery", 300)))


def _function(
    root: Path,
    name: str,
    res: dict[str, Any],
    props: dict[str, Any],
    globals_fn: dict[str, Any],
    global_env: dict[str, Any],
    layers: dict[str, Path],
    resolver: _Resolver,
) -> FunctionSpec:
    if props.get("PackageType") == "Image":
        dockerfile = root / res.get("Metadata", {}).get("Dockerfile", "")
        command = (props.get("ImageConfig") or {}).get("Command") or []
        if not dockerfile.is_file() or not command:
            raise TemplateError(f"function {name}: an Image function needs Metadata.Dockerfile and ImageConfig.Command")
        # The image copies the shared layer in; locally the same code is on the layer's path.
        code_dir, handler, fn_layers = dockerfile.parent, command[0], list(layers.values())
    else:
        code_dir = root / props["CodeUri"]
        handler = props.get("Handler", "")
        fn_layers = []
        for layer in props.get("Layers", []):
            layer_name = layer.get("Ref") if isinstance(layer, dict) else None
            if layer_name not in layers:
                raise TemplateError(f"function {name}: layer {layer} is not a layer defined in this template")
            fn_layers.append(layers[layer_name])
    env = {**global_env, **resolver.resolve((props.get("Environment") or {}).get("Variables", {}))}
    spec = FunctionSpec(
        name=name,
        code_dir=code_dir,
        handler=handler,
        layers=fn_layers,
        environment={k: str(v) for k, v in env.items()},
        timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
        memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
    )
    for event_name, event in (props.get("Events") or {}).items():
        if event["Type"] == "Schedule":
            spec.schedules.append(_rate_seconds(name, str(event["Properties"]["Schedule"])))
            continue
        if event["Type"] != "Api":
            raise TemplateError(f"function {name}: event {event_name} of type {event['Type']} is not supported locally")
        ev = event["Properties"]
        auth = (ev.get("Auth") or {}).get("Authorizer")
        spec.routes.append(ApiRoute(name, ev["Method"].upper(), ev["Path"], authorizer=auth != "NONE"))
    return spec


def _rate_seconds(function: str, expression: str) -> int:
    """Seconds between runs of an EventBridge `rate(N unit)` schedule; cron() is not run locally."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise TemplateError(f"function {function}: schedule {expression!r} is not supported locally (use rate(N unit))")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match[2].rstrip("s")]
    return int(match[1]) * unit


def _state_machine(root: Path, name: str, props: dict[str, Any], resolver: _Resolver) -> dict[str, Any]:
    text = (root / props["DefinitionUri"]).read_text()
    substitutions = resolver.resolve(props.get("DefinitionSubstitutions") or {})
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions))
    if missing:
        raise TemplateError(f"state machine {name}: no DefinitionSubstitutions for {', '.join(missing)}")
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", str(value))
    rules = []
    for event_name, event in (props.get("Events") or {}).items():
        if event["Type"] != "EventBridgeRule":
            raise TemplateError(f"state machine {name}: event {event_name} of type {event['Type']} is not supported")
        rules.append(resolver.resolve(event["Properties"]["Pattern"]))
    return {
        "name": name,
        "arn": resolver.ref(name),
        "definition": json.loads(text),
        "rules": rules,
    }
