"""The local stack's AWS endpoint: moto's S3 and DynamoDB behind a gateway that behaves like AWS where moto does not.

`Gateway` is a WSGI app wrapping moto's server app. On the way in it:

* answers Lambda's ``Invoke`` API with the in-process handlers it was given (`local_stack.lambda_invoke`): Step
  Functions (moto's ASL engine, behind this same endpoint) runs a Task state's function through it;
* sends Step Functions calls to moto for the template's account (its ARNs name that account, moto's default differs);
* enforces presigned POST policies the way S3 does (signature, expiration, conditions, the coverage rule and
  ``content-length-range``), with S3's status codes and XML error bodies, before the upload reaches moto;
* refuses presigned URLs past their lifetime (``Request has expired``);
* verifies presigned URLs' query signatures (SigV4 and SigV2) and boto3's SigV4 ``Authorization`` headers with
  botocore's own signers, and refuses unsigned requests to the bucket (Block Public Access);
* refuses more than 2 KB of user-defined metadata (``MetadataTooLarge``);
* changes moto's S3 state one request at a time (moto closes an overwritten object under a concurrent reader);
* runs one DynamoDB request at a time (each is atomic in DynamoDB), on tables whose index Queries read sorted
  index keys (`local_stack.dynamodb`), so a Query's cost follows what it returns, not the table's size.

On the way out it turns every object S3 would announce (PutObject, POST Object, CopyObject,
CompleteMultipartUpload) into the EventBridge "Object Created" event S3 sends, and hands it to
``on_object_created``: a picture upload starts the generation workflow just as S3 -> EventBridge does in AWS.

`serve` runs a gateway on a threaded werkzeug server in a background thread.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import IO, Any, NoReturn
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket, FakeKey, s3_backends
from moto.s3.utils import cors_matches_origin
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wsgi import get_input_stream

from local_stack import dynamodb, lambda_invoke

logger = logging.getLogger(__name__)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
ObjectCreatedHandler = Callable[[dict[str, Any]], object]

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
MAX_PRE_FILE_BYTES = 20 * 1024  # S3: form fields before the file may not exceed 20 KB
MAX_POST_OBJECT_BYTES = 5 * 1024**3  # S3's limit for an object uploaded in one request
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
# S3: "Within the PUT request header, the user-defined metadata is limited to 2 KB in size. The size of user-defined
# metadata is measured by taking the sum of the number of bytes in the UTF-8 encoding of each key and value." The key
# is the name after the "x-amz-meta-" prefix; a POST form's x-amz-meta-* fields count the same way.
MAX_METADATA_BYTES = 2 * 1024
_CHUNK = 64 * 1024
_SPOOL_BYTES = 1024 * 1024
_SCOPE_RE = re.compile(r"Credential=([^/,\s]*)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_ISO_LONG = "%Y%m%dT%H%M%SZ"
_POLICY_EXPIRATION_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")
# Query parameters a plain PutObject may carry; any other one names a subresource (?tagging, ?partNumber, ...).
_PUT_OBJECT_QUERY = frozenset({"x-id", "awsaccesskeyid", "signature", "expires"})


# ---------------------------------------------------------------------------------------------- errors


class S3Error(Exception):
    """An S3 error answer: HTTP status, error code, message and the extra XML elements S3 adds."""

    def __init__(self, status: int, code: str, message: str, elements: Sequence[tuple[str, object]] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.elements = tuple(elements)

    def xml(self, request_id: str, host_id: str) -> bytes:
        """The error document S3 sends."""
        parts = [f"<Code>{escape(self.code)}</Code>", f"<Message>{escape(self.message)}</Message>"]
        parts += [f"<{name}>{escape(str(value))}</{name}>" for name, value in self.elements]
        parts += [f"<RequestId>{request_id}</RequestId>", f"<HostId>{host_id}</HostId>"]
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()


def _access_denied(message: str) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def _policy_failure(reason: str) -> S3Error:
    return _access_denied(f"Invalid according to Policy: {reason}")


def _invalid_policy(reason: str) -> S3Error:
    return S3Error(400, "InvalidPolicyDocument", f"Invalid Policy: {reason}")


def _invalid_argument(message: str, name: str, value: str, *more: tuple[str, object]) -> S3Error:
    return S3Error(400, "InvalidArgument", message, [("ArgumentName", name), ("ArgumentValue", value), *more])


def _missing_post_field(name: str) -> S3Error:
    return _invalid_argument(
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        name,
        "",
    )


def _query_auth_error(message: str) -> S3Error:
    return S3Error(400, "AuthorizationQueryParametersError", message)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _request_ids() -> tuple[str, str]:
    return secrets.token_hex(8).upper(), base64.b64encode(secrets.token_bytes(48)).decode()


# ---------------------------------------------------------------------------------------------- signing


def signing_key(secret_key: str, date: str, region: str, service: str = "s3") -> bytes:
    """The SigV4 signing key for a credential scope (date is YYYYMMDD)."""
    key = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def post_policy_signature(secret_key: str, date: str, region: str, policy: str) -> str:
    """The SigV4 ``x-amz-signature`` of a presigned POST: hex HMAC-SHA256 of the base64 policy as sent."""
    return hmac.new(signing_key(secret_key, date, region), policy.encode(), hashlib.sha256).hexdigest()


def _post_policy_signature_v2(secret_key: str, policy: str) -> str:
    return base64.b64encode(hmac.new(secret_key.encode(), policy.encode(), hashlib.sha1).digest()).decode()


# ---------------------------------------------------------------------------------------------- POST form


@dataclass
class PostForm:
    """A presigned POST form as S3 reads it: the fields before the file part, then the file."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    has_file: bool = False
    filename: str | None = None  # the file part's filename parameter, None when it has none
    file_type: str | None = None  # the file part's own Content-Type
    body: IO[bytes] | None = None
    size: int = 0

    def get(self, name: str) -> str | None:
        """A field's value, names compared case-insensitively; repeated fields joined with commas as S3 does."""
        values = [value for key, value in self.fields if key.lower() == name]
        return ",".join(values) if values else None

    def expand_filename(self) -> None:
        """Replace ``${filename}`` in every field with the file's name, as S3 does before checking the policy."""
        if self.filename is None:
            return  # S3 keeps the variable as sent when the file part names no file
        name = re.split(r"[/\\]", self.filename)[-1]
        self.fields = [(key, value.replace("${filename}", name)) for key, value in self.fields]

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


def read_post_form(stream: IO[bytes], boundary: bytes, on_file: Callable[[PostForm], int]) -> PostForm:
    """Parse a multipart/form-data POST body the way S3 does, streaming the file to a spooled temporary file.

    Parts after the file are ignored. When the file part starts, ``on_file`` checks the fields and returns how many
    bytes of file may be kept; the rest is counted but not stored. The body is always read to its end, so an error
    answer reaches a client that is still sending. Raises `S3Error`.
    """
    form = PostForm()
    decoder = MultipartDecoder(boundary, max_form_memory_size=4 * _CHUNK + MAX_PRE_FILE_BYTES, max_parts=1000)
    state = "fields"  # fields -> file -> after
    current: Field | File | None = None
    value = bytearray()
    pre_file_bytes = 0
    keep = 0
    try:
        for chunk in _chunks(stream):
            decoder.receive_data(chunk)
            while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
                if isinstance(event, Field | File):
                    current = event
                    value.clear()
                    if state == "fields" and (event.name or "").lower() == "file":
                        state = "file"
                        form.has_file = True
                        form.filename = event.filename if isinstance(event, File) else None
                        form.file_type = event.headers.get("content-type")
                        form.expand_filename()
                        keep = on_file(form)
                        # Owned by the form: PostForm.close() closes it.
                        form.body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # noqa: SIM115
                elif isinstance(event, Data) and current is not None:
                    if state == "file":
                        _store(form, event.data, keep)
                        if not event.more_data:
                            state = "after"
                    elif state == "fields":
                        pre_file_bytes += len(event.data)
                        if pre_file_bytes > MAX_PRE_FILE_BYTES:
                            raise _pre_data_too_large()
                        value += event.data
                        if not event.more_data:
                            form.fields.append((current.name or "", value.decode("utf-8", "replace")))
                            pre_file_bytes += len(current.name or "")
            if chunk is None:
                break
    except RequestEntityTooLarge as exc:
        form.close()
        raise _pre_data_too_large() from exc
    except ValueError as exc:
        form.close()
        raise S3Error(
            400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
        ) from exc
    except BaseException:
        form.close()
        raise
    finally:
        _drain(stream)
    if form.body is not None:
        form.body.seek(0)
    return form


def _store(form: PostForm, data: bytes, keep: int) -> None:
    if form.body is not None and form.size < keep:
        form.body.write(data[: keep - form.size])
    form.size += len(data)


def _pre_data_too_large() -> S3Error:
    return S3Error(
        400,
        "MaxPostPreDataLengthExceeded",
        "Your POST request fields preceeding the upload file was too large.",
        [("MaxPostPreDataLengthBytes", MAX_PRE_FILE_BYTES)],
    )


def _chunks(stream: IO[bytes]) -> Iterable[bytes | None]:
    while data := stream.read(_CHUNK):
        yield data
    yield None


def _drain(stream: IO[bytes]) -> None:
    while stream.read(_CHUNK):
        pass


# ---------------------------------------------------------------------------------------------- POST policy


@dataclass(frozen=True)
class _Condition:
    operation: str  # eq | starts-with | content-length-range
    name: str  # the field, lower case, without "$"; "" when the condition does not name one with "$"
    values: tuple[Any, ...]
    text: str  # how S3 quotes the condition in its error message


@dataclass(frozen=True)
class PostPolicyCheck:
    """Checks a presigned POST form against its policy, in S3's order. Raises `S3Error`."""

    bucket: str
    bucket_region: str
    access_key: str
    secret_key: str
    now: float

    def check_fields(self, form: PostForm) -> list[tuple[int, int]]:
        """Check everything but the file's size; return the policy's content-length ranges."""
        if not form.get("key"):
            raise _missing_post_field("key")
        if not form.has_file:
            raise _invalid_argument("POST requires exactly one file upload per request.", "file", "0")
        exempt = self._check_signature(form)
        policy = self._decode_policy(form.get("policy") or "")
        self._check_expiration(policy)
        conditions = [_parse_condition(item) for item in _policy_conditions(policy)]
        ranges: list[tuple[int, int]] = []
        for condition in conditions:
            if condition.operation == "content-length-range":
                bounds = _length_range(condition)
                if bounds is None:
                    raise _policy_failure(f"Policy Condition failed: {condition.text}")
                ranges.append(bounds)
            elif not self._holds(condition, form):
                raise _policy_failure(f"Policy Condition failed: {condition.text}")
        covered = {condition.name for condition in conditions}
        extra = [
            name
            for name, _ in form.fields
            if name.lower() not in covered and name.lower() not in exempt and not name.lower().startswith("x-ignore-")
        ]
        if extra:
            raise _policy_failure(f"Extra input fields: {', '.join(dict.fromkeys(extra))}")
        return ranges

    @staticmethod
    def check_size(ranges: Sequence[tuple[int, int]], size: int) -> None:
        """Enforce ``content-length-range`` (bounds inclusive) and S3's single-request limit."""
        for low, high in [*ranges, (0, MAX_POST_OBJECT_BYTES)]:
            if size < low:
                raise S3Error(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    [("ProposedSize", size), ("MinSizeAllowed", low)],
                )
            if size > high:
                raise S3Error(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    [("ProposedSize", size), ("MaxSizeAllowed", high)],
                )

    def _check_signature(self, form: PostForm) -> set[str]:
        """Verify the form's SigV4 (or SigV2) signature; return the field names the coverage rule exempts."""
        v4 = [("x-amz-algorithm", "X-Amz-Algorithm"), ("x-amz-credential", "X-Amz-Credential")]
        v4 += [("x-amz-date", "X-Amz-Date"), ("x-amz-signature", "X-Amz-Signature"), ("policy", "Policy")]
        v2 = [("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature"), ("policy", "Policy")]
        if any(form.get(name) is not None for name, _ in v4[:4]):
            scheme = v4
        elif any(form.get(name) is not None for name, _ in v2[:2]):
            scheme = v2
        else:
            raise _access_denied("Access Denied")  # anonymous: the bucket is not publicly writable
        for name, shown in scheme:
            if not form.get(name):
                raise _missing_post_field(shown)
        policy = form.get("policy") or ""
        if scheme is v2:
            access_key, provided = form.get("awsaccesskeyid") or "", form.get("signature") or ""
            self._check_access_key(access_key)
            expected = _post_policy_signature_v2(self.secret_key, policy)
            self._compare(expected, provided, access_key, policy)
            return {"awsaccesskeyid", "signature", "file", "policy"}
        algorithm = form.get("x-amz-algorithm") or ""
        if algorithm != SIGV4_ALGORITHM:
            raise _invalid_argument(f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"', "X-Amz-Algorithm", algorithm)
        credential = form.get("x-amz-credential") or ""
        access_key, date, region = self._parse_credential(credential)
        self._check_access_key(access_key)
        if region != self.bucket_region:
            raise _invalid_argument(
                f"the region '{region}' is wrong; expecting '{self.bucket_region}'",
                "X-Amz-Credential",
                credential,
                ("Region", self.bucket_region),
            )
        provided = form.get("x-amz-signature") or ""
        expected = post_policy_signature(self.secret_key, date, region, policy)
        self._compare(expected, provided, access_key, policy, case_sensitive=False)
        return {"x-amz-signature", "file", "policy"}

    @staticmethod
    def _parse_credential(credential: str) -> tuple[str, str, str]:
        parts = credential.split("/")
        if len(parts) != 5 or not re.fullmatch(r"\d{8}", parts[1]) or parts[3] != "s3" or parts[4] != "aws4_request":
            raise _invalid_argument(
                'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
                "X-Amz-Credential",
                credential,
            )
        if not parts[0]:
            raise _invalid_argument(
                "a non-empty Access Key (AKID) must be provided in the credential.", "X-Amz-Credential", credential
            )
        return parts[0], parts[1], parts[2]

    def _check_access_key(self, access_key: str) -> None:
        if access_key != self.access_key:
            raise S3Error(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                [("AWSAccessKeyId", access_key)],
            )

    @staticmethod
    def _compare(expected: str, provided: str, access_key: str, policy: str, *, case_sensitive: bool = True) -> None:
        candidate = provided if case_sensitive else provided.lower()
        if not hmac.compare_digest(expected.encode(), candidate.encode()):
            raise S3Error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
                [
                    ("AWSAccessKeyId", access_key),
                    ("StringToSign", policy),
                    ("SignatureProvided", provided),
                    ("StringToSignBytes", " ".join(f"{byte:02x}" for byte in policy.encode())),
                ],
            )

    @staticmethod
    def _decode_policy(policy: str) -> dict[str, Any]:
        try:
            text = base64.b64decode(policy, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid_policy("Invalid Base64 encoding.") from exc
        try:
            document = json.loads(text, parse_float=_reject_float)
        except ValueError as exc:
            raise _invalid_policy("Invalid JSON.") from exc
        if not isinstance(document, dict):
            raise _invalid_policy("Invalid JSON.")
        for key in document:
            if key not in ("expiration", "conditions"):
                raise _invalid_policy(f"Unexpected: '{key.lower()}'")
        return document

    def _check_expiration(self, policy: Mapping[str, Any]) -> None:
        if "expiration" not in policy:
            raise _invalid_policy("Policy missing expiration.")
        expiration = policy["expiration"]
        for fmt in _POLICY_EXPIRATION_FORMATS:
            try:
                expires = datetime.strptime(str(expiration), fmt).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
        else:
            raise _invalid_policy(f"Invalid 'expiration' value: '{expiration}'")
        if self.now > expires.timestamp():
            raise _policy_failure("Policy expired.")

    def _holds(self, condition: _Condition, form: PostForm) -> bool:
        if not condition.name:
            return False
        actual = self.bucket if condition.name == "bucket" else form.get(condition.name)
        if actual is None:
            return False
        expected = condition.values[0]
        if condition.operation == "eq":
            return actual == expected
        if condition.name == "content-type" and "," in actual:
            return all(item.strip().startswith(expected) for item in actual.split(","))
        return actual.startswith(expected)


def _reject_float(text: str) -> NoReturn:
    raise ValueError(f"a policy number must be an integer: {text}")


def _policy_conditions(policy: Mapping[str, Any]) -> list[Any]:
    if "conditions" not in policy:
        raise _invalid_policy("Policy missing conditions.")
    conditions = policy["conditions"]
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid 'conditions' value: must be a List.")
    return conditions


def _parse_condition(item: Any) -> _Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise _invalid_policy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise _invalid_policy("Invalid Simple-Condition: value must be a string.")
        text = json.dumps(["eq", f"${name}", value], ensure_ascii=False)
        return _Condition("eq", name.lower(), (value,), text)
    if not isinstance(item, list):
        raise _invalid_policy("Invalid condition test: must be a List or Object.")
    if not item or not isinstance(item[0], str):
        raise _invalid_policy("Invalid Condition: missing operation identifier.")
    operation = item[0].lower()
    text = json.dumps(item, ensure_ascii=False)
    if operation not in ("eq", "starts-with", "content-length-range"):
        raise _invalid_policy(f"Invalid Condition: unknown operation '{item[0]}'.")
    if len(item) != 3:
        raise _invalid_policy(f"Invalid {item[0]}: wrong number of arguments.")
    if operation == "content-length-range":
        return _Condition(operation, "content-length-range", (item[1], item[2]), text)
    subject, value = item[1], item[2]
    if not isinstance(subject, str) or not isinstance(value, str):
        raise _invalid_policy("Invalid JSON.")
    name = subject[1:].lower() if subject.startswith("$") else ""
    return _Condition(operation, name, (value,), text)


def _length_range(condition: _Condition) -> tuple[int, int] | None:
    bounds = []
    for value in condition.values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        try:
            bounds.append(int(value))
        except ValueError:
            return None
    return bounds[0], bounds[1]


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class _S3Request:
    method: str
    bucket: str
    key: str
    query: tuple[tuple[str, str], ...]
    virtual_host: bool

    @classmethod
    def from_environ(cls, environ: Environ) -> _S3Request:
        path = environ.get("PATH_INFO", "") or "/"
        path = path.encode("latin-1").decode("utf-8", "replace")
        query = tuple(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        host = environ.get("HTTP_HOST", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname.endswith(".localhost"):
            return cls(environ["REQUEST_METHOD"], hostname.split(".", 1)[0], path[1:], query, True)
        bucket, _, key = path[1:].partition("/")
        return cls(environ["REQUEST_METHOD"], bucket, key, query, False)

    @property
    def is_post_object(self) -> bool:
        return self.method == "POST" and bool(self.bucket) and not self.key and not self.query

    def creation_reason(self, environ: Environ) -> str | None:
        """The S3 operation that creates an object, if this request is one (``reason`` in the event)."""
        if not self.bucket or not self.key:
            return None
        names = {key.lower() for key, _ in self.query}
        if self.method == "PUT":
            if any(name not in _PUT_OBJECT_QUERY and not name.startswith("x-amz-") for name in names):
                return None
            return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
        if self.method == "POST" and "uploadid" in names and "partnumber" not in names:
            return "CompleteMultipartUpload"
        return None


def _is_s3(environ: Environ) -> bool:
    """Whether this is an S3 request: signed for s3, or unsigned and not a query- or JSON-protocol call."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("AWS4-"):
        match = _SCOPE_RE.search(auth)
        return match is not None and match.group(4) == "s3"
    if auth.startswith("AWS "):
        return True
    if environ.get("HTTP_X_AMZ_TARGET"):
        return False
    credential = dict(parse_qsl(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
    if credential:
        return credential.split("/")[3:4] == ["s3"]
    # Unsigned query-protocol calls (STS's web-identity calls, say) post a form to "/"; S3 has nothing there.
    form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
    return not (form and environ.get("PATH_INFO", "/") in ("", "/"))


def check_presigned_expiry(query: Sequence[tuple[str, str]], now: float) -> None:
    """Refuse a presigned URL past its lifetime (SigV4 ``X-Amz-Date`` + ``X-Amz-Expires``, or SigV2 ``Expires``)."""
    params = dict(query)
    if "X-Amz-Expires" in params and "X-Amz-Date" in params:
        try:
            signed = datetime.strptime(params["X-Amz-Date"], _ISO_LONG).replace(tzinfo=UTC).timestamp()
        except ValueError as exc:
            raise _query_auth_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"") from exc
        try:
            lifetime = int(params["X-Amz-Expires"])
        except ValueError as exc:
            raise _query_auth_error("X-Amz-Expires should be a number") from exc
        if lifetime < 0:
            raise _query_auth_error("X-Amz-Expires must be non-negative")
        if lifetime > MAX_PRESIGN_SECONDS:
            raise _query_auth_error(f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_SECONDS}")
        if now > signed + lifetime:
            raise S3Error(
                403,
                "AccessDenied",
                "Request has expired",
                [("X-Amz-Expires", lifetime), ("Expires", _iso(signed + lifetime)), ("ServerTime", _iso(now))],
            )
    elif "Expires" in params and "Signature" in params and "AWSAccessKeyId" in params:
        try:
            expires = int(params["Expires"])
        except ValueError:
            return  # S3 answers this with a signature mismatch, which the local stack does not check
        if now > expires:
            raise S3Error(
                403, "AccessDenied", "Request has expired", [("Expires", _iso(expires)), ("ServerTime", _iso(now))]
            )


# ---------------------------------------------------------------------------------------------- query signatures

_SIGV4_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders",
                       "X-Amz-Expires")


def is_query_signed(query: Sequence[tuple[str, str]]) -> bool:
    """Whether a request carries its signature in the query string (a presigned URL, SigV4 or SigV2)."""
    names = {name for name, _ in query}
    return "X-Amz-Signature" in names or "X-Amz-Credential" in names or ("Signature" in names and "AWSAccessKeyId" in names)


def check_query_signature(environ: Environ, credentials: tuple[str, str]) -> None:
    """Verify a presigned URL's signature as S3 does, over the request as received. Raises `S3Error`.

    The expected signature is computed by botocore's own signers (`S3SigV4QueryAuth`, `HmacV1QueryAuth` for SigV2)
    with the stack's credentials: method, path (bucket and key, URI-encoded as S3 does), every query parameter but
    the signature, and the signed headers (Host included) as this request sent them. So a changed key, an added or
    changed ``response-*`` override, another Host or another value of a signed header fails the check. Expiry is
    checked by `check_presigned_expiry`. Requests without a query signature are left alone.
    """
    query = _raw_query(environ.get("QUERY_STRING", ""))
    params = dict(query)
    if "X-Amz-Signature" in params or "X-Amz-Credential" in params:
        _check_sigv4_query(environ, query, credentials)
    elif "Signature" in params and "AWSAccessKeyId" in params:
        _check_sigv2_query(environ, query, credentials)


def _raw_query(query_string: str) -> list[tuple[str, str]]:
    """The query's parameters, percent-decoded ("+" is kept: S3 reads it as a plus, not a space)."""
    pairs = []
    for part in query_string.encode("latin-1").decode("utf-8", "replace").split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _canonical_path(environ: Environ) -> str:
    """The request's path as S3 canonicalises it: every byte URI-encoded but unreserved characters, "/" and "~"."""
    return quote((environ.get("PATH_INFO", "") or "/").encode("latin-1"), safe="/~")


def _header(environ: Environ, name: str) -> str | None:
    lower = name.lower()
    key = lower.upper().replace("-", "_")
    value = environ.get(key if lower in ("content-type", "content-length") else f"HTTP_{key}")
    return None if value is None else value.encode("latin-1").decode("utf-8", "replace")


def _check_sigv4_query(environ: Environ, query: list[tuple[str, str]], credentials: tuple[str, str]) -> None:
    params = dict(query)
    if any(not params.get(name) for name in _SIGV4_QUERY_PARAMS if name != "X-Amz-Expires") or (
        "X-Amz-Expires" not in params
    ):
        raise _query_auth_error(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
            "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    if params["X-Amz-Algorithm"] != SIGV4_ALGORITHM:
        raise _query_auth_error(f'X-Amz-Algorithm only supports "{SIGV4_ALGORITHM}"')
    credential = params["X-Amz-Credential"]
    parts = credential.split("/")
    if len(parts) != 5 or not re.fullmatch(r"\d{8}", parts[1]) or parts[4] != "aws4_request" or not parts[0]:
        raise _query_auth_error(
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key, date, region, service = parts[:4]
    timestamp = params["X-Amz-Date"]
    if not timestamp.startswith(date):
        raise _query_auth_error(
            f"Error parsing the X-Amz-Credential parameter; Invalid credential date. Date is not the same as "
            f"X-Amz-Date: {date}."
        )
    _check_access_key(access_key, credentials)
    provided = params["X-Amz-Signature"]
    signed = params["X-Amz-SignedHeaders"].lower().split(";")
    headers = {name: value for name in signed if (value := _header(environ, name)) is not None}
    request = AWSRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        url=f"http://{environ.get('HTTP_HOST', '')}{_canonical_path(environ)}",
        headers=headers,
    )
    request.params = [(name, value) for name, value in query if name != "X-Amz-Signature"]
    request.context["timestamp"] = timestamp
    signer = S3SigV4QueryAuth(Credentials(access_key, credentials[1]), service, region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected.encode(), provided.lower().encode()):
        raise _signature_mismatch(access_key, string_to_sign, provided, canonical_request)


class _SignedUntil(HmacV1QueryAuth):
    """botocore's SigV2 query signer with the URL's own ``Expires`` in place of "now + lifetime"."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._expires_at = expires

    def _get_date(self) -> str:
        return self._expires_at


def _check_sigv2_query(environ: Environ, query: list[tuple[str, str]], credentials: tuple[str, str]) -> None:
    params = dict(query)
    access_key, provided = params["AWSAccessKeyId"], params["Signature"]
    _check_access_key(access_key, credentials)
    headers = HTTPHeaders()
    for name in ("content-md5", "content-type"):
        if (value := _header(environ, name)) is not None:
            headers[name] = value
    for key, value in environ.items():
        if key.startswith("HTTP_X_AMZ_"):
            headers[key[5:].lower().replace("_", "-")] = value.encode("latin-1").decode("utf-8", "replace")
    request = _S3Request.from_environ(environ)
    path = _canonical_path(environ)
    auth_path = f"/{quote(request.bucket, safe='')}{path}" if request.virtual_host else None
    split = urlsplit(f"http://{environ.get('HTTP_HOST', '')}{path}?{environ.get('QUERY_STRING', '')}")
    signer = _SignedUntil(Credentials(access_key, credentials[1]), params.get("Expires", ""))
    string_to_sign = signer.canonical_string(environ.get("REQUEST_METHOD", "GET"), split, headers, auth_path=auth_path)
    expected = signer.sign_string(string_to_sign)
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise _signature_mismatch(access_key, string_to_sign, provided)


def _check_access_key(access_key: str, credentials: tuple[str, str]) -> None:
    if access_key != credentials[0]:
        raise S3Error(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            [("AWSAccessKeyId", access_key)],
        )


def _signature_mismatch(access_key: str, string_to_sign: str, provided: str, canonical_request: str = "") -> S3Error:
    elements: list[tuple[str, object]] = [
        ("AWSAccessKeyId", access_key),
        ("StringToSign", string_to_sign),
        ("SignatureProvided", provided),
        ("StringToSignBytes", " ".join(f"{byte:02x}" for byte in string_to_sign.encode())),
    ]
    if canonical_request:
        elements += [
            ("CanonicalRequest", canonical_request),
            ("CanonicalRequestBytes", " ".join(f"{byte:02x}" for byte in canonical_request.encode())),
        ]
    return S3Error(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        elements,
    )


_AUTHORIZATION_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-fA-F]+)\s*"
)


def check_header_signature(environ: Environ, credentials: tuple[str, str]) -> None:
    """Verify a SigV4 ``Authorization`` header (boto3's clients) with botocore's `S3SigV4Auth`, over the request as
    received, as `check_query_signature` does for URLs; the payload hash is the ``x-amz-content-sha256`` the client
    signed (S3 also checks the body against it; the local stack does not), and the request time is not compared with
    the clock (tests move it). SigV2 ``Authorization: AWS ...`` headers are not verified. Raises `S3Error`."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if not authorization.startswith("AWS4-"):
        return
    match = _AUTHORIZATION_RE.fullmatch(authorization)
    parts = match.group(1).split("/") if match else []
    if match is None or len(parts) != 5 or not re.fullmatch(r"\d{8}", parts[1]) or parts[4] != "aws4_request":
        raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed; the authorization "
                      "header requires three components: Credential, SignedHeaders, and Signature.")
    access_key, date, region, service = parts[:4]
    _check_access_key(access_key, credentials)
    timestamp = _header(environ, "x-amz-date") or ""
    if not timestamp.startswith(date):
        raise _access_denied("AWS authentication requires a valid Date or x-amz-date header")
    headers = {name: value for name in match.group(2).lower().split(";") if (value := _header(environ, name)) is not None}
    request = AWSRequest(
        method=environ.get("REQUEST_METHOD", "GET"),
        url=f"http://{environ.get('HTTP_HOST', '')}{_canonical_path(environ)}",
        headers=headers,
    )
    request.params = _raw_query(environ.get("QUERY_STRING", ""))
    request.context["timestamp"] = timestamp
    signer = S3SigV4Auth(Credentials(access_key, credentials[1]), service, region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected.encode(), match.group(3).lower().encode()):
        raise _signature_mismatch(access_key, string_to_sign, match.group(3), canonical_request)


def check_authenticated(environ: Environ, request: _S3Request, credentials: tuple[str, str]) -> None:
    """Refuse what S3 refuses on the stack's bucket (Block Public Access, no public policy): a request whose query or
    SigV4 header signature does not verify, and an anonymous request for a bucket or object. A POST form is checked
    by its policy. Raises `S3Error`.
    """
    if is_query_signed(request.query):
        check_query_signature(environ, credentials)
    elif environ.get("HTTP_AUTHORIZATION"):
        check_header_signature(environ, credentials)
    elif request.bucket and not request.is_post_object:
        raise _access_denied("Access Denied")


# ---------------------------------------------------------------------------------------------- metadata


def check_metadata_size(metadata: Iterable[tuple[str, str]]) -> None:
    """Refuse user-defined metadata (``x-amz-meta-*`` names and values) over S3's 2 KB. Raises `S3Error`."""
    size = 0
    for name, value in metadata:
        if name.lower().startswith("x-amz-meta-"):
            size += len(name[len("x-amz-meta-"):].encode()) + len(value.encode())
    if size > MAX_METADATA_BYTES:
        raise S3Error(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
            [("Size", size), ("MaxSizeAllowed", MAX_METADATA_BYTES)],
        )


def check_request_metadata(environ: Environ, request: _S3Request) -> None:
    """`check_metadata_size` for a request whose ``x-amz-meta-*`` headers become an object's metadata: PutObject,
    CreateMultipartUpload, and CopyObject with ``x-amz-metadata-directive: REPLACE`` (a plain copy keeps the source's
    metadata, which was checked when it was written). Raises `S3Error`."""
    if request.method not in ("PUT", "POST") or not request.key:
        return
    if environ.get("HTTP_X_AMZ_COPY_SOURCE") and environ.get("HTTP_X_AMZ_METADATA_DIRECTIVE", "").upper() != "REPLACE":
        return
    check_metadata_size(
        (name[5:].lower().replace("_", "-"), value.encode("latin-1").decode("utf-8", "replace"))
        for name, value in environ.items()
        if name.startswith("HTTP_X_AMZ_META_")
    )


def check_copy_conditions(environ: Environ) -> None:
    """CopyObject's ``x-amz-copy-source-if-match`` / ``-if-none-match`` against the source's ETag, as S3 evaluates
    them (moto ignores them): 412 PreconditionFailed when one does not hold. Called under the S3 write lock, so
    the source cannot change between the check and the copy. Raises `S3Error`."""
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if_match = environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_MATCH")
    if_none_match = environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_NONE_MATCH")
    if not source or not (if_match or if_none_match):
        return
    path, _, query = unquote(source).lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    stored = _stored_object(bucket, key, dict(parse_qsl(query)).get("versionId"))
    if stored is None:
        raise S3Error(404, "NoSuchKey", "The specified key does not exist.", [("Key", key)])
    etag = stored.etag.strip('"')
    if if_match and if_match.strip('"') != etag:
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                      [("Condition", "x-amz-copy-source-If-Match")])
    if if_none_match and if_none_match.strip('"') == etag:
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                      [("Condition", "x-amz-copy-source-If-None-Match")])


# ---------------------------------------------------------------------------------------------- moto


def backends(region: str) -> tuple[Any, Any]:
    """moto's S3 and DynamoDB backends behind the gateway (for the stack's own seeding, not for handlers)."""
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"], dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def _locate_bucket(name: str) -> tuple[str, FakeBucket] | None:
    """(owner account, bucket) of a bucket moto holds, or None."""
    located = s3_backends.bucket_accounts.get(name)
    if located is None:
        return None
    partition, account = located
    try:
        return account, s3_backends[account][partition].get_bucket(name)
    except S3ClientError:
        return None


def _stored_object(bucket: str, key: str, version_id: str | None) -> FakeKey | None:
    located = s3_backends.bucket_accounts.get(bucket)
    if located is None:
        return None
    partition, account = located
    try:
        return s3_backends[account][partition].get_object(bucket, key, version_id=version_id)
    except S3ClientError:
        return None


@dataclass
class _Answer:
    """A buffered WSGI response."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def code(self) -> int:
        return int(self.status.split(" ", 1)[0])

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def send(self, start_response: StartResponse) -> list[bytes]:
        start_response(self.status, self.headers)
        return [self.body]


# GetObject's query parameters that override the response's headers (presigned download links use them).
RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def _with_response_overrides(request: _S3Request, start_response: StartResponse) -> StartResponse:
    """As S3 does for GET and HEAD Object: `response-*` parameters replace those headers of a success."""
    overrides = {RESPONSE_OVERRIDES[k]: v for k, v in request.query if k in RESPONSE_OVERRIDES}
    if request.method not in ("GET", "HEAD") or not overrides:
        return start_response

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        if status.startswith("2"):
            names = {name.lower() for name in overrides}
            headers = [(k, v) for k, v in headers if k.lower() not in names] + list(overrides.items())
        return start_response(status, headers, exc_info)

    return start


def _call(app: Callable[[Environ, StartResponse], Iterable[bytes]], environ: Environ) -> _Answer:
    captured: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        captured["status"], captured["headers"] = status, list(headers)
        return written.append

    result = app(environ, start_response)
    try:
        written.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return _Answer(captured["status"], captured["headers"], b"".join(written))


class _ConcatReader(io.RawIOBase):
    """Reads several byte streams one after the other: a multipart body rebuilt around a spooled file."""

    def __init__(self, parts: Sequence[IO[bytes]]) -> None:
        super().__init__()
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._parts:
            data = self._parts[0].read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._parts.pop(0)
        return 0


def _multipart_environ(environ: Environ, form: PostForm) -> Environ:
    """A copy of the environ whose body is the form rebuilt as S3 understood it: expanded fields, then the file."""
    boundary = secrets.token_hex(16)
    head = bytearray()
    skip = {"success_action_status", "success_action_redirect", "redirect", "file"}
    for name, value in form.fields:
        if name.lower() in skip:
            continue  # the gateway answers these itself, as S3 does
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote_param(name.lower())}"\r\n\r\n'.encode()
        head += value.encode() + b"\r\n"
    # moto expands ${filename} in the key once more: naming the file "${filename}" keeps the key as resolved here.
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="${{filename}}"\r\n'.encode()
    head += f"Content-Type: {form.file_type or 'binary/octet-stream'}\r\n\r\n".encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    if form.body is None:
        raise ValueError("the form has no file")
    form.body.seek(0)
    stored = min(form.size, _spooled_size(form.body))
    copy = dict(environ)
    copy["wsgi.input"] = io.BufferedReader(_ConcatReader([io.BytesIO(bytes(head)), form.body, io.BytesIO(tail)]))
    copy["CONTENT_LENGTH"] = str(len(head) + stored + len(tail))
    copy["CONTENT_TYPE"] = f"multipart/form-data; boundary={boundary}"
    copy.pop("HTTP_TRANSFER_ENCODING", None)
    copy.pop("wsgi.input_terminated", None)
    return copy


def _spooled_size(body: IO[bytes]) -> int:
    position = body.tell()
    size = body.seek(0, io.SEEK_END)
    body.seek(position)
    return size


def _quote_param(value: str) -> str:
    return value.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


class ReadWriteLock:
    """Many readers or one writer; a waiting writer goes before readers that arrive after it.

    moto's S3 objects are not safe to share between threads: overwriting or deleting a key closes the old object's
    buffer, and a request still reading it (a GET, the ETag another upload's answer computes, a listing) fails with
    "I/O operation on closed file". The gateway reads moto's S3 state (GET, HEAD) under the read side and changes it
    under the write side; request bodies are received before the write side is taken, so a slow client does not
    hold everyone else up.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not self._writing and not self._readers)
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


@dataclass(frozen=True)
class _Stored:
    """What an "Object Created" event says about the object a write stored, read before the next write."""

    etag: str
    version_id: str | None
    size: int


def _stored_after(bucket: str, key: str, answer: _Answer) -> _Stored | None:
    """The object a successful write just stored (call it while holding the write lock), or None."""
    if not 200 <= answer.code < 300:
        return None
    version = answer.header("x-amz-version-id")
    stored = _stored_object(bucket, key, version if version not in (None, "null") else None)
    if stored is None:
        return None
    return _Stored((answer.header("ETag") or stored.etag).strip('"'), stored.version_id, stored.size)


def _received_body(environ: Environ) -> tuple[Environ, IO[bytes]]:
    """A copy of the environ whose body has been read to its end into a spooled file (close the file after use)."""
    stream = get_input_stream(environ)
    body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+b")  # noqa: SIM115 - the caller closes it
    size = 0
    while data := stream.read(_CHUNK):
        body.write(data)
        size += len(data)
    body.seek(0)
    copy = dict(environ)
    copy["wsgi.input"] = body
    copy["CONTENT_LENGTH"] = str(size)
    copy.pop("HTTP_TRANSFER_ENCODING", None)
    copy.pop("wsgi.input_terminated", None)
    return copy, body


# ---------------------------------------------------------------------------------------------- gateway


class Gateway:
    """WSGI app: moto's S3/DynamoDB server app with AWS's presigned-request rules and S3 -> EventBridge events.

    ``credentials`` are the (access key, secret key) the local stack hands its clients; presigned POST signatures are
    verified with them. ``functions`` maps a Lambda function name to a callable taking the event and returning the
    result; Lambda ``Invoke`` requests run it. ``account`` is the account Step Functions resources live in (moto
    reads it from the ``x-moto-account-id`` header). ``on_object_created`` receives each "Object Created"
    event synchronously on the request's thread, before S3's answer is sent; its exceptions are logged, never
    answered. ``clock`` (epoch seconds) decides expiry and event times.
    """

    def __init__(
        self,
        *,
        credentials: tuple[str, str],
        region: str,
        on_object_created: ObjectCreatedHandler,
        functions: Mapping[str, lambda_invoke.Handler] | None = None,
        account: str = DEFAULT_ACCOUNT_ID,
        documents: Mapping[str, Mapping[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access_key, self._secret_key = credentials
        # Public JSON documents served by GET at fixed paths (the identity provider's JWKS).
        self._documents = {path: json.dumps(doc).encode() for path, doc in (documents or {}).items()}
        self.region = region
        self._on_object_created = on_object_created
        self._functions = dict(functions or {})
        self._account = account
        self._clock = clock
        self._moto = DomainDispatcherApplication(create_backend_app)
        # moto's dispatcher looks the service up (a directory scan) under a global lock on every
        # request; S3 and DynamoDB, which the product uses, are routed straight to their apps.
        self._apps: dict[str, Any] = {}
        self._apps_lock = threading.Lock()
        self._dynamodb_lock = threading.Lock()
        # A Query on an index reads the index, as DynamoDB does, not every item of the table.
        dynamodb.install(dynamodb_backends[DEFAULT_ACCOUNT_ID][region])
        self._throttle_s3 = 0  # fault injection: answer this many S3 requests with 503 SlowDown
        self._s3_lock = ReadWriteLock()  # moto's S3 objects are not thread-safe: see ReadWriteLock
        self._sequence_lock = threading.Lock()
        self._last_sequence = 0

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        document = self._documents.get(environ.get("PATH_INFO", ""))
        if document is not None and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(document)))])
            return [document]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        function = lambda_invoke.function_name(environ.get("PATH_INFO", ""))
        if function is not None and environ.get("REQUEST_METHOD") == "POST":
            return self._invoke(function, environ, start_response)
        if target.startswith("AWSStepFunctions."):
            environ.setdefault("HTTP_X_MOTO_ACCOUNT_ID", self._account)
            return self._backend("stepfunctions")(environ, start_response)
        if not _is_s3(environ):
            if target.startswith("DynamoDB_"):
                # DynamoDB applies each request atomically (a conditional write cannot interleave with
                # another write); moto does not lock, so the gateway runs one DynamoDB request at a time.
                with self._dynamodb_lock:
                    answer = _call(self._backend("dynamodb"), environ)
                return answer.send(start_response)
            return self._moto(environ, start_response)
        request = _S3Request.from_environ(environ)
        if self._take_throttle():
            _drain(get_input_stream(environ))
            return self._error(S3Error(503, "SlowDown", "Please reduce your request rate."), request, environ,
                               start_response)
        try:
            if request.method != "OPTIONS":  # S3 answers CORS preflights without authenticating them
                check_presigned_expiry(request.query, self._clock())
                check_authenticated(environ, request, (self.access_key, self._secret_key))
                check_request_metadata(environ, request)
        except S3Error as error:
            _drain(get_input_stream(environ))
            return self._error(error, request, environ, start_response)
        if request.is_post_object:
            return self._post_object(request, environ, start_response)
        reason = request.creation_reason(environ)
        if reason is None and request.method in ("GET", "HEAD", "OPTIONS"):
            with self._s3_lock.reading():
                return self._backend("s3")(environ, _with_response_overrides(request, start_response))
        try:
            answer, stored = self._write_s3(environ, request.bucket, request.key)
        except S3Error as error:
            return self._error(error, request, environ, start_response)
        if reason is not None and 200 <= answer.code < 300:
            request_id = answer.header("x-amz-request-id") or _request_ids()[0]
            self._announce(request, reason, environ, answer, request_id, stored=stored)
        return answer.send(start_response)

    def _write_s3(self, environ: Environ, bucket: str, key: str) -> tuple[_Answer, _Stored | None]:
        """Hand a request that may change S3's state to moto, one at a time; return moto's answer and the object
        then stored at ``bucket``/``key`` (if the request succeeded and there is one)."""
        received, body = _received_body(environ)
        try:
            with self._s3_lock.writing():
                check_copy_conditions(received)
                answer = _call(self._backend("s3"), received)
                return answer, _stored_after(bucket, key, answer) if key else None
        finally:
            body.close()

    def throttle_s3(self, requests: int) -> None:
        """Fault injection for tests: the next `requests` S3 requests get 503 SlowDown, as S3 answers under load."""
        with self._apps_lock:
            self._throttle_s3 += requests

    def throttles_pending(self) -> int:
        with self._apps_lock:
            return self._throttle_s3

    def _take_throttle(self) -> bool:
        with self._apps_lock:
            if self._throttle_s3 <= 0:
                return False
            self._throttle_s3 -= 1
            return True

    def _backend(self, service: str) -> Any:
        """moto's WSGI app for one service, created once."""
        app = self._apps.get(service)
        if app is None:
            with self._apps_lock:
                app = self._apps.get(service) or create_backend_app(service)  # type: ignore[arg-type]
                self._apps[service] = app
        return app

    # ------------------------------------------------------------------------------------ Lambda Invoke

    def _invoke(self, function: str, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """Lambda's Invoke, run by the in-process handler on this request's thread."""
        body = get_input_stream(environ).read()
        reply = lambda_invoke.invoke(self._functions, function, body, environ.get("HTTP_X_AMZ_INVOCATION_TYPE"))
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        start_response(f"{reply.status} {_reason_phrase(reply.status)}", headers)
        return [reply.body]

    # ------------------------------------------------------------------------------------ POST Object

    def _post_object(self, request: _S3Request, environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream = get_input_stream(environ)
        try:
            answer, form, key, size, stored_object = self._receive_post(request, environ, stream)
        except S3Error as error:
            _drain(stream)
            return self._error(error, request, environ, start_response)
        if not 200 <= answer.code < 300:
            return answer.send(start_response)
        request_id = answer.header("x-amz-request-id") or _request_ids()[0]
        stored = self._announce(request, "PostObject", environ, answer, request_id, key=key, size=size,
                                stored=stored_object)
        return self._post_answer(request, environ, form, key, stored, request_id, answer).send(start_response)

    def _receive_post(
        self, request: _S3Request, environ: Environ, stream: IO[bytes]
    ) -> tuple[_Answer, PostForm, str, int, _Stored | None]:
        """Read and check a POST Object form, then hand the upload to moto. Raises `S3Error`."""
        mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
        if mimetype != "multipart/form-data":
            raise S3Error(
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
                [("Condition", "Bucket POST must be of the enclosure-type multipart/form-data")],
            )
        if not options.get("boundary"):
            raise S3Error(
                400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
            )
        if not environ.get("CONTENT_LENGTH") and not environ.get("wsgi.input_terminated"):
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        located = _locate_bucket(request.bucket)
        if located is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist", [("BucketName", request.bucket)])
        check = PostPolicyCheck(
            bucket=request.bucket,
            bucket_region=located[1].region_name,
            access_key=self.access_key,
            secret_key=self._secret_key,
            now=self._clock(),
        )
        ranges: list[tuple[int, int]] = []

        def on_file(form: PostForm) -> int:
            ranges.extend(check.check_fields(form))
            check_metadata_size(form.fields)
            return min([MAX_POST_OBJECT_BYTES, *(high for _, high in ranges)]) + 1

        form = read_post_form(stream, options["boundary"].encode("latin-1"), on_file)
        try:
            if not form.has_file:
                check.check_fields(form)  # raises: no key, or no file
            check.check_size(ranges, form.size)
            key = form.get("key") or ""
            with self._s3_lock.writing():
                answer = _call(self._backend("s3"), _multipart_environ(environ, form))
                stored = _stored_after(request.bucket, key, answer)
        finally:
            form.close()
        return answer, form, key, form.size, stored

    def _post_answer(
        self,
        request: _S3Request,
        environ: Environ,
        form: PostForm,
        key: str,
        stored: tuple[str, str | None],
        request_id: str,
        moto_answer: _Answer,
    ) -> _Answer:
        """S3's answer to a successful POST: 303 to ``success_action_redirect``, or ``success_action_status``."""
        etag, version_id = stored
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST", "")
        location = f"{scheme}://{host}/{quote(key, safe='')}"
        if not request.virtual_host:
            location = f"{scheme}://{host}/{quote(request.bucket, safe='')}/{quote(key, safe='')}"
        headers = [(name, value) for name, value in moto_answer.headers if name.lower().startswith("access-control-")]
        headers += [("x-amz-request-id", request_id), ("x-amz-id-2", _request_ids()[1]), ("ETag", f'"{etag}"')]
        if version_id:
            headers.append(("x-amz-version-id", version_id))
        redirect = form.get("success_action_redirect") or form.get("redirect") or ""
        target = urlsplit(redirect)
        if target.scheme in ("http", "https") and target.netloc:
            query = urlencode([("bucket", request.bucket), ("key", key), ("etag", f'"{etag}"')])
            headers += [("Location", redirect + ("&" if target.query else "?") + query), ("Content-Length", "0")]
            return _Answer("303 See Other", headers, b"")
        headers.append(("Location", location))
        status = form.get("success_action_status")
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Location>{escape(location)}</Location><Bucket>{escape(request.bucket)}</Bucket>"
                f'<Key>{escape(key)}</Key><ETag>"{etag}"</ETag></PostResponse>'
            ).encode()
            headers += [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
            return _Answer("201 Created", headers, body)
        if status == "200":
            return _Answer("200 OK", [*headers, ("Content-Length", "0")], b"")
        return _Answer("204 No Content", headers, b"")

    # ------------------------------------------------------------------------------------ events

    def _announce(
        self,
        request: _S3Request,
        reason: str,
        environ: Environ,
        answer: _Answer,
        request_id: str,
        *,
        key: str | None = None,
        size: int | None = None,
        stored: _Stored | None = None,
    ) -> tuple[str, str | None]:
        """Send the "Object Created" event for an object moto just stored (``stored``, read under the write lock);
        return its (etag, version id)."""
        key = request.key if key is None else key
        version_header = answer.header("x-amz-version-id")
        etag = (answer.header("ETag") or (stored.etag if stored is not None else "")).strip('"')
        version_id = stored.version_id if stored is not None else version_header
        if stored is not None:
            size = stored.size
        elif size is None:
            logger.warning(
                "object %s/%s not found after %s; its size is taken from the request", request.bucket, key, reason
            )
            size = int(environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or environ.get("CONTENT_LENGTH") or 0)
        located = _locate_bucket(request.bucket)
        account = located[0] if located else DEFAULT_ACCOUNT_ID
        region = located[1].region_name if located else self.region
        obj: dict[str, Any] = {"key": key, "size": size, "etag": etag}
        if version_id and version_id != "null":
            obj["version-id"] = version_id
        obj["sequencer"] = self._sequencer()
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": account,
            "time": _iso(self._clock()),
            "region": region,
            "resources": [f"arn:aws:s3:::{request.bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": request.bucket},
                "object": obj,
                "request-id": request_id,
                "requester": account,
                "source-ip-address": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "reason": reason,
            },
        }
        try:
            self._on_object_created(event)
        except Exception:
            logger.exception("Object Created handler failed for s3://%s/%s", request.bucket, key)
        return etag, obj.get("version-id")

    def _sequencer(self) -> str:
        with self._sequence_lock:
            self._last_sequence = max(self._last_sequence + 1, int(self._clock() * 1_000_000_000))
            return f"{self._last_sequence:018X}"

    # ------------------------------------------------------------------------------------ errors

    def _error(self, error: S3Error, request: _S3Request, environ: Environ, start_response: StartResponse) -> list[bytes]:
        request_id, host_id = _request_ids()
        body = b"" if request.method == "HEAD" else error.xml(request_id, host_id)
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", host_id),
            *_cors_headers(request.bucket, environ.get("HTTP_ORIGIN")),
        ]
        logger.info("%s %s -> %s %s: %s", request.method, environ.get("PATH_INFO"), error.status, error.code, error.message)
        start_response(f"{error.status} {_reason_phrase(error.status)}", headers)
        return [body]


def _cors_headers(bucket: str, origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers S3 adds for the bucket's first CORS rule matching the Origin, so browsers can read errors."""
    located = _locate_bucket(bucket) if bucket and origin else None
    if located is None or origin is None:
        return []
    for rule in located[1].cors:
        if rule.allowed_origins is not None and cors_matches_origin(origin, rule.allowed_origins):
            headers = [("Access-Control-Allow-Origin", origin)]
            if rule.allowed_methods:
                headers.append(("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods)))
            if rule.exposed_headers:
                headers.append(("Access-Control-Expose-Headers", ", ".join(rule.exposed_headers)))
            if rule.max_age_seconds is not None:
                headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
            return [*headers, ("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")]
    return []


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# ---------------------------------------------------------------------------------------------- server


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, with the access log at DEBUG on this module's logger instead of stderr.

    HTTP/1.1 keeps clients' connections open between calls (as S3 and DynamoDB do), and
    TCP_NODELAY sends a response's headers and body without waiting for the peer's ACK.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug('%s "%s" %s %s', self.address_string(), self.requestline, code, size)


def serve(host: str, port: int, gateway: Gateway) -> tuple[BaseWSGIServer, threading.Thread]:
    """Serve a gateway on a threaded werkzeug server in a daemon thread (port 0 picks a free port).

    The server's ``port`` is the bound port; stop it with ``server.shutdown()`` then ``server.server_close()``.
    """
    server = make_server(host, port, gateway, threaded=True, request_handler=_RequestHandler)
    thread = threading.Thread(
        target=functools.partial(server.serve_forever, poll_interval=0.1), name=f"s3gate:{server.port}", daemon=True
    )
    thread.start()
    return server, thread
