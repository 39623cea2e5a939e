#!/usr/bin/env python3
"""The fidelity layer: a reverse proxy between `deploy` and moto that makes moto behave like AWS
where it matters to a deployer (slow states, conflicts, dependencies, IAM lag) and injects faults
(throttling, 500s, lost answers, stalls, latency). See README.md in this folder for the options.

Loopback only, threaded, stdlib only, except the `conformance` check (conformance.py beside this
file), which reads botocore's AWS API models. Everything is off by default.

Usage: fidelity_proxy.py --upstream http://127.0.0.1:PORT [--config opts.json] [--realism] ...
Prints its own URL (http://127.0.0.1:PORT) as the first line on stdout once it accepts requests.
"""

import argparse
import base64
import datetime
import http.client
import http.server
import json
import os
import random
import re
import subprocess
import tempfile
import zipfile
import io
import socket
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

# name -> (default, type, help). The JSON config and `POST /__fidelity__` use the same names.
OPTIONS = {
    "rds": (False, bool, "RDS states: creating/backing-up/modifying/stopping/starting/deleting"),
    "rds_creating_s": (2.0, float, "seconds in `creating` (no Endpoint) after CreateDBInstance"),
    "rds_backing_up_s": (1.0, float, "seconds in `backing-up` after `creating`"),
    "rds_modifying_s": (1.0, float, "seconds in `modifying` after ModifyDBInstance"),
    "rds_stopping_s": (1.0, float, "seconds in `stopping` after StopDBInstance"),
    "rds_starting_s": (1.0, float, "seconds in `starting` after StartDBInstance"),
    "rds_deleting_s": (2.0, float, "seconds a deleted instance stays listed as `deleting`"),
    "rds_storage_optimization_s": (2.0, float, "seconds in `storage-optimization` after a storage ModifyDBInstance"),
    "rds_lazy_s": (2.0, float, "seconds DescribeDBInstances keeps the old PubliclyAccessible, DeletionProtection and Performance Insights after ModifyDBInstance"),
    "lambda": (False, bool, "Lambda: State Pending after create, LastUpdateStatus InProgress after updates"),
    "lambda_pending_s": (1.0, float, "seconds in State Pending after CreateFunction"),
    "lambda_updating_s": (1.0, float, "seconds in LastUpdateStatus InProgress after an update"),
    "iam": (False, bool, "IAM: a young role cannot be assumed by Lambda"),
    "iam_role_delay_s": (2.0, float, "age a role needs before Lambda accepts it"),
    "iam_min_refusals": (0, int, "refuse each new role at least this many times, whatever its age"),
    "ec2": (False, bool, "EC2: DependencyViolation deleting a security group in use"),
    "ec2_eni_release_s": (2.0, float, "seconds a group stays in use after the last function left it"),
    "ec2_min_refusals": (0, int, "refuse deleting a group a function left at least this many times"),
    "ec2_unseen_calls": (0, int, "EC2 eventual consistency: refuse this many calls naming each new group with InvalidGroup.NotFound"),
    "cognito": (False, bool, "Cognito: UsernameAttributes stay as created (moto's UpdateUserPool drops them); UnusedAccountValidityDays refused"),
    "rds_versions": (False, bool, "RDS engine versions: DescribeDBEngineVersions answered from rds_available; CreateDBInstance refuses other versions; a major alone creates the major's default"),
    "rds_available": (
        "13.20,13.21,14.17,14.18,15.12,15.13,16.9,16.10,16.11,17.5,17.6",
        str,
        "postgres versions RDS creates, comma-separated; the newest listed of each major is its default, the newest major is the engine's",
    ),
    "conformance": (False, bool, "refuse, as AWS would, a request its AWS API model (botocore's service-2.json) forbids"),
    "ec2_rules": (False, bool, "EC2: ModifySecurityGroupRules sets a group-referencing rule's description where DescribeSecurityGroups shows it"),
    "lambda_run": (False, bool, "Lambda Invoke runs the function's Python handler (the code uploaded through the proxy) and writes its output to /aws/lambda/<name>"),
    "page_size": (None, int, "answer list calls in pages of this many items (see PAGED)"),
    "latency_ms": (0.0, float, "added latency per request (milliseconds)"),
    "throttle_rate": (0.0, float, "fraction of requests throttled (service's own code and status)"),
    "error_rate": (0.0, float, "fraction of requests answered with a 500"),
    "conflict_rate": (0.0, float, "fraction of requests answered with the service's concurrent-update refusal (IAM ConcurrentModification, SSM TooManyUpdates)"),
    "lose_rate": (0.0, float, "fraction of requests forwarded, then the connection closed unanswered"),
    "stall_rate": (0.0, float, "fraction of requests forwarded, then answered after stall_s"),
    "stall_s": (30.0, float, "how long a stalled answer is held"),
    "fault_match": (None, str, "regex on `service.Operation`: which requests faults may hit (default all)"),
    "throttle_match": (None, str, "overrides fault_match for throttling"),
    "error_match": (None, str, "overrides fault_match for 500s"),
    "lose_match": (None, str, "overrides fault_match for lost answers"),
    "stall_match": (None, str, "overrides fault_match for stalls"),
    "throttle_max": (None, int, "at most this many throttles (default unlimited)"),
    "error_max": (None, int, "at most this many 500s"),
    "conflict_max": (None, int, "at most this many concurrent-update refusals"),
    "conflict_match": (None, str, "overrides fault_match for concurrent-update refusals"),
    "lose_max": (None, int, "at most this many lost answers"),
    "stall_max": (None, int, "at most this many stalls"),
    "seed": (0, int, "seed of the fault RNG"),
    "log": (None, str, "append one JSON line per request to this file"),
}
# Request token buckets (the EC2 API reference's "Request throttling": a bucket per action class,
# with a capacity and a refill rate per second; all mutating actions share one bucket; IAM, Lambda,
# Cognito and RDS meter calls the same way). `bucket_<service>_<class>: "CAPACITY/REFILL"`, e.g.
# `bucket_ec2_mutating: "20/5"`; a request finding its bucket empty gets the service's throttling
# answer (THROTTLE) and takes no token. Option name -> the service as Req.service names it.
BUCKET_SERVICES = {"ec2": "ec2", "iam": "iam", "lambda": "lambda", "cognito": "cognito-idp", "rds": "rds", "ssm": "ssm"}
BUCKET_CLASSES = ("mutating", "other")
for _name in BUCKET_SERVICES:
    for _cls in BUCKET_CLASSES:
        OPTIONS[f"bucket_{_name}_{_cls}"] = (
            None,
            str,
            f"{_name} token bucket for {'mutating' if _cls == 'mutating' else 'non-mutating (Describe/List/Get)'} calls: CAPACITY/REFILL_PER_S, e.g. 20/5",
        )
# Non-mutating actions: what AWS meters apart from the writes.
READ_ACTION = re.compile(r"^(Describe|List|Get|Lookup|Search)")


def parse_bucket(spec):
    """(capacity, refill per second) of a `CAPACITY/REFILL` option value."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*", spec or "")
    if not m or float(m.group(1)) < 1 or float(m.group(2)) <= 0:
        raise ValueError(f"bucket {spec!r}: expected CAPACITY/REFILL_PER_SECOND, e.g. 20/5 (capacity >= 1, refill > 0)")
    return float(m.group(1)), float(m.group(2))


REALISM = ("rds", "lambda", "iam", "ec2", "rds_versions", "conformance")
FAULTS = ("throttle", "error", "lose", "stall", "conflict")
DEFAULT_ACCOUNT = "123456789012"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "content-length",
    "expect",
    "status",  # moto adds a `status` header; AWS does not
}


def check_options(opts):
    out = {}
    for k, v in opts.items():
        if k not in OPTIONS:
            raise ValueError(f"unknown option {k!r} (known: {', '.join(sorted(OPTIONS))})")
        _, typ, _ = OPTIONS[k]
        if v is not None:
            if typ is bool and not isinstance(v, bool):
                raise ValueError(f"option {k}: expected true/false, got {v!r}")
            if typ is float:
                v = float(v)
            elif typ is int:
                v = int(v)
            elif typ is str:
                v = str(v)
                if k.endswith("_match"):
                    re.compile(v)
                if k.startswith("bucket_"):
                    parse_bucket(v)
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------------
# Telling requests apart


class Req:
    """What the proxy knows about one request."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.account = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT
        self.akid, self.date, self.region, self.scope_service = scope(headers.get("authorization", ""))
        self.region = self.region or "us-east-1"
        self.params = {}  # query protocol parameters
        self.json = None  # JSON body, when there is one
        self.function = None  # Lambda function name named by the path
        self.service, self.operation = self._identify()

    def _identify(self):
        path_only = self.path.split("?", 1)[0]
        target = self.headers.get("x-amz-target", "")
        if target and "." in target:
            prefix, op = target.split(".", 1)
            self._load_json()
            return json_service(prefix, self.scope_service), op
        if path_only.startswith("/moto-api"):
            return "moto-api", self.method + " " + path_only
        m = LAMBDA_PATH.match(path_only)
        if m and self.scope_service in (None, "lambda"):
            self._load_json()
            op, self.function = lambda_operation(self.method, path_only)
            return "lambda", op
        form = {}
        ctype = self.headers.get("content-type", "")
        if "x-www-form-urlencoded" in ctype or self.body.startswith(b"Action="):
            form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        if "?" in self.path:
            for k, v in urllib.parse.parse_qs(self.path.split("?", 1)[1], keep_blank_values=True).items():
                form.setdefault(k, v)
        if "Action" in form:
            self.params = {k: v[0] for k, v in form.items()}
            return self.scope_service or "query", self.params["Action"]
        return self.scope_service or "unknown", self.method + " " + path_only

    def _load_json(self):
        if self.body:
            try:
                self.json = json.loads(self.body)
            except ValueError:
                self.json = None

    def list_param(self, prefix):
        """Values of a query-protocol list (`Prefix.member.1`, `Prefix.1`, `Prefix.Item.1`...)."""
        pat = re.compile(re.escape(prefix) + r"(\.[A-Za-z]+)?\.(\d+)$")
        found = []
        for k, v in self.params.items():
            m = pat.match(k)
            if m:
                found.append((int(m.group(2)), v))
        return [v for _, v in sorted(found)]

    def label(self):
        return f"{self.service}.{self.operation}"


LAMBDA_PATH = re.compile(r"^/20\d\d-\d\d-\d\d/(functions|layers|tags|event-source-mappings|account-settings)\b")


def scope(auth):
    """(access key, date, region, service) of a SigV4 Authorization header."""
    m = re.search(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request", auth)
    if not m:
        return None, None, None, None
    return m.group(1), m.group(2), m.group(3), m.group(4)


def json_service(prefix, scoped):
    if "CognitoIdentityProvider" in prefix:
        return "cognito-idp"
    if prefix == "AmazonSSM":
        return "ssm"
    if prefix.startswith("ResourceGroupsTaggingAPI"):
        return "tagging"
    if prefix.startswith("DynamoDB"):
        return "dynamodb"
    if prefix.startswith("AWSSecurityTokenService"):
        return "sts"
    return scoped or prefix


def function_name(segment):
    name = urllib.parse.unquote(segment)
    if name.startswith("arn:"):
        name = name.split(":function:", 1)[-1]
    return name.split(":", 1)[0]


def lambda_operation(method, path):
    parts = [p for p in path.split("/") if p][1:]
    kind, rest = parts[0], parts[1:]
    if kind == "functions":
        if not rest:
            return {"GET": "ListFunctions", "POST": "CreateFunction"}.get(method, method), None
        name, sub = function_name(rest[0]), rest[1:]
        table = {
            (): {"GET": "GetFunction", "DELETE": "DeleteFunction"},
            ("configuration",): {"GET": "GetFunctionConfiguration", "PUT": "UpdateFunctionConfiguration"},
            ("code",): {"PUT": "UpdateFunctionCode"},
            ("policy",): {"GET": "GetPolicy", "POST": "AddPermission", "DELETE": "RemovePermission"},
            ("invocations",): {"POST": "Invoke"},
            ("versions",): {"GET": "ListVersionsByFunction", "POST": "PublishVersion"},
            ("concurrency",): {
                "GET": "GetFunctionConcurrency",
                "PUT": "PutFunctionConcurrency",
                "DELETE": "DeleteFunctionConcurrency",
            },
        }
        key = tuple(sub[:1])
        return table.get(key, {}).get(method, f"{method} functions/{'/'.join(sub)}"), name
    if kind == "layers":
        if not rest:
            return "ListLayers", None
        if len(rest) == 2:
            return {"GET": "ListLayerVersions", "POST": "PublishLayerVersion"}.get(method, method), None
        if len(rest) == 3:
            return {"GET": "GetLayerVersion", "DELETE": "DeleteLayerVersion"}.get(method, method), None
        return f"{method} layers/{'/'.join(rest[3:])}", None
    if kind == "tags":
        return {"GET": "ListTags", "POST": "TagResource", "DELETE": "UntagResource"}.get(method, method), None
    return f"{method} {kind}", None


# ------------------------------------------------------------------------------------------------
# AWS-shaped answers


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


XMLNS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
JSON_PROTOCOL = {"cognito-idp", "ssm", "tagging", "dynamodb"}

THROTTLE = {
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "rds": ("Throttling", 400, "Rate exceeded"),
    "iam": ("Throttling", 400, "Rate exceeded"),
    "sts": ("Throttling", 400, "Rate exceeded"),
    "lambda": ("TooManyRequestsException", 429, "Rate exceeded"),
    "cognito-idp": ("TooManyRequestsException", 400, "Too many requests"),
    "ssm": ("ThrottlingException", 400, "Rate exceeded"),
    "tagging": ("ThrottledException", 400, "Rate exceeded"),
    "dynamodb": ("ThrottlingException", 400, "Rate of requests exceeds the allowed throughput."),
    "s3": ("SlowDown", 503, "Please reduce your request rate."),
}
INTERNAL = {
    "ec2": "InternalError",
    "rds": "InternalFailure",
    "iam": "ServiceFailure",
    "sts": "InternalFailure",
    "lambda": "ServiceException",
    "cognito-idp": "InternalErrorException",
    "ssm": "InternalServerError",
    "tagging": "InternalServiceException",
    "dynamodb": "InternalServerError",
    "s3": "InternalError",
}


def error_answer(req, code, status, message):
    rid = str(uuid.uuid4())
    svc = req.service
    base = [("x-amzn-RequestId", rid)]
    if svc == "lambda":
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message})
        if code == "TooManyRequestsException":
            body = json.dumps({"Type": "User", "Reason": "CallerRateLimitExceeded", "message": message})
        hdrs = base + [("Content-Type", "application/json"), ("X-Amzn-ErrorType", code)]
        return Answer(status, hdrs, body.encode())
    if svc in JSON_PROTOCOL:
        version = "1.0" if svc == "dynamodb" else "1.1"
        body = json.dumps({"__type": code, "message": message})
        return Answer(status, base + [("Content-Type", f"application/x-amz-json-{version}")], body.encode())
    msg = xml_escape(message)
    if svc == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{msg}</Message></Error></Errors>"
            f"<RequestID>{rid}</RequestID></Response>"
        )
    elif svc == "s3":
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{msg}</Message><RequestId>{rid}</RequestId></Error>'
    else:
        ns = XMLNS.get(svc, f"https://{svc}.amazonaws.com/doc/")
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
            f"<Message>{msg}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        )
    return Answer(status, base + [("Content-Type", "text/xml")], body.encode())


def throttle_answer(req):
    code, status, message = THROTTLE.get(req.service, ("Throttling", 400, "Rate exceeded"))
    return error_answer(req, code, status, message)


# What a service answers when another writer changes the same thing at that moment: IAM's
# ConcurrentModification (409, IAM API reference "Common errors" of CreateRole and friends) and
# SSM's TooManyUpdates (PutParameter/DeleteParameter: "There are concurrent updates").
CONFLICT = {
    "iam": ("ConcurrentModification", 409, "Rate exceeded for operation on this entity: concurrent modification"),
    "ssm": ("TooManyUpdates", 400, "There are concurrent updates for the resource that you tried to update."),
}


def conflict_answer(req):
    if req.service not in CONFLICT:
        return None
    code, status, message = CONFLICT[req.service]
    return error_answer(req, code, status, message)


def internal_answer(req):
    code = INTERNAL.get(req.service, "InternalFailure")
    return error_answer(req, code, 500, "We encountered an internal error. Please try again.")


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_text(block, tag):
    m = re.search(f"<{tag}>(.*?)</{tag}>", block, re.S)
    return m.group(1) if m else None


def local(tag):
    return tag.rsplit("}", 1)[-1]


def local_children(elem, *path):
    """Descendants along `path` by local name (EC2's XML has a namespace that varies by version)."""
    level = [elem]
    for name in path:
        level = [c for e in level for c in e if local(c.tag) == name]
    return level


def local_text(elem, name):
    for c in elem:
        if local(c.tag) == name:
            return c.text
    return None


DB_INSTANCE = re.compile(r"<DBInstance>.*?</DBInstance>", re.S)


# ------------------------------------------------------------------------------------------------
# The world as AWS would show it (what moto does not model)


class RdsInstance:
    def __init__(self):
        self.phases = []  # [(status, until)]; after the last one, moto's own status shows
        self.settled = None  # the status once the phases are over, when the proxy knows it
        self.ghost = None  # the <DBInstance> element of a deleted instance still `deleting`
        self.ghost_until = 0.0
        # Performance Insights as Create/Modify set it (moto does not report it): element -> text
        self.pi = None
        self.lazy = {}  # element -> the old text DescribeDBInstances still shows
        self.lazy_until = 0.0

    def phase_until(self, status):
        for st, until in self.phases:
            if st == status:
                return until
        return None

    def start(self, now, phases, settled):
        self.phases, t = [], now
        for status, seconds in phases:
            t += seconds
            self.phases.append((status, t))
        self.settled = settled

    def status(self, now):
        """The status to show instead of moto's, or None."""
        if self.ghost is not None:
            return "deleting" if now < self.ghost_until else None
        for status, until in self.phases:
            if now < until:
                return status
        return None

    def effective(self, now):
        return self.status(now) or self.settled


class LambdaFunction:
    def __init__(self):
        self.pending_until = 0.0
        self.updating_until = 0.0


class World:
    def __init__(self, opts):
        self.lock = threading.Lock()
        self.opts = dict(opts)
        self.rng = random.Random(self.opts["seed"])
        self.counts = {k: 0 for k in FAULTS}
        self.conformance_counts = {"checked": 0, "refused": 0, "allowed": 0}
        self._checker = None
        self.reset_state()
        if self.opts["conformance"]:
            self.checker()  # fail at start, not at the first request, when botocore is missing

    def checker(self):
        """The conformance checker (conformance.py), made on first use: it loads botocore."""
        with self.lock:
            if self._checker is None:
                self._checker = conformance_module().Checker()
            return self._checker

    def reset_state(self):
        self.rds = {}  # (account, region, id) -> RdsInstance
        self.functions = {}  # (account, region, name) -> LambdaFunction
        # The *_min_refusals counts make a test meet a behaviour however slow the machine is.
        self.roles = {}  # (account, role name) -> [created (monotonic), refusals left]
        self.eni_hold = {}  # (account, region, sg id) -> [until (monotonic), refusals left]
        self.username_attributes = {}  # pool id -> UsernameAttributes sent at creation
        # (account, region, instance id) -> the EngineVersion RDS upgraded it to by itself
        self.engine_upgrades = {}
        # (account, group, protocol, from, to, source group) -> description set by a modify
        self.rule_descriptions = {}
        self.unseen_groups = {}  # sg id -> calls naming it still to refuse (EC2 eventual consistency)
        self.buckets = {}  # bucket option -> [tokens, last refill (monotonic), option value]
        self.function_code = {}  # (account, region, name) -> the zip last uploaded (lambda_run)

    def configure(self, changes):
        changes = check_options(changes)
        with self.lock:
            self.opts.update(changes)
            if "seed" in changes:
                self.rng = random.Random(self.opts["seed"])
            return dict(self.opts)

    def take_token(self, req, now):
        """The bucket option that refuses `req` (its bucket is empty), or None: the request took a
        token or no bucket meters it."""
        name = next((n for n, svc in BUCKET_SERVICES.items() if svc == req.service), None)
        if name is None:
            return None
        cls = "other" if READ_ACTION.match(req.operation or "") else "mutating"
        key = f"bucket_{name}_{cls}"
        with self.lock:
            spec = self.opts.get(key)
            if not spec:
                return None
            capacity, refill = parse_bucket(spec)
            b = self.buckets.get(key)
            if b is None or b[2] != spec:
                b = self.buckets[key] = [capacity, now, spec]  # a new bucket starts full
            b[0] = min(capacity, b[0] + (now - b[1]) * refill)
            b[1] = now
            if b[0] >= 1.0:
                b[0] -= 1.0
                return None
            self.counts["bucket"] = self.counts.get("bucket", 0) + 1
            return key

    def pick_fault(self, label):
        """Which fault (if any) hits this request: one draw, so a seed gives one schedule."""
        with self.lock:
            o = self.opts
            eligible = []
            for kind in FAULTS:
                rate = o[f"{kind}_rate"] or 0.0
                if rate <= 0:
                    continue
                limit = o[f"{kind}_max"]
                if limit is not None and self.counts[kind] >= limit:
                    continue
                pattern = o[f"{kind}_match"] or o["fault_match"]
                if pattern and not re.search(pattern, label):
                    continue
                eligible.append((kind, rate))
            if not eligible:
                return None
            u, acc = self.rng.random(), 0.0
            for kind, rate in eligible:
                acc += rate
                if u < acc:
                    self.counts[kind] += 1
                    return kind
            return None


# ------------------------------------------------------------------------------------------------
# Upstream


def forward(upstream, method, path, headers, body, timeout=300):
    host, port = upstream
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        out["Content-Length"] = str(len(body))
        conn.request(method, path, body=body, headers=out)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
        return Answer(resp.status, hdrs, data)
    finally:
        conn.close()


class Upstream:
    """Reads of moto's own view, made by the proxy itself (signed like the request it serves)."""

    def __init__(self, addr, req):
        self.addr = addr
        self.req = req

    def _headers(self, service):
        now = datetime.datetime.now(datetime.timezone.utc)
        date = self.req.date or now.strftime("%Y%m%d")
        h = {
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.req.akid or 'testing'}/{date}/"
            f"{self.req.region}/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
            "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        }
        if "x-moto-account-id" in self.req.headers:
            h["x-moto-account-id"] = self.req.headers["x-moto-account-id"]
        return h

    def query(self, service, params):
        h = self._headers(service)
        h["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        body = urllib.parse.urlencode(params).encode()
        return forward(self.addr, "POST", "/", h, body, timeout=60)

    def lambda_get(self, path):
        return forward(self.addr, "GET", path, self._headers("lambda"), b"", timeout=60)

    def function_groups(self, name):
        a = self.lambda_get(f"/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/configuration")
        if a.status != 200:
            return set()
        return set(((json.loads(a.body).get("VpcConfig") or {}).get("SecurityGroupIds")) or [])

    def functions_using(self, group):
        users, marker = [], None
        while True:
            path = "/2015-03-31/functions/?MaxItems=50" + (f"&Marker={urllib.parse.quote(marker)}" if marker else "")
            a = self.lambda_get(path)
            if a.status != 200:
                return users
            page = json.loads(a.body)
            for f in page.get("Functions", []):
                if group in ((f.get("VpcConfig") or {}).get("SecurityGroupIds") or []):
                    users.append(f["FunctionName"])
            marker = page.get("NextMarker")
            if not marker:
                return users

    def instances_using(self, group):
        a = self.query("rds", {"Action": "DescribeDBInstances", "Version": "2014-10-31"})
        users = []
        for block in DB_INSTANCE.findall(a.body.decode()) if a.status == 200 else []:
            if f"<VpcSecurityGroupId>{group}</VpcSecurityGroupId>" in block:
                users.append(xml_text(block, "DBInstanceIdentifier"))
        return users

    def enis_using(self, group):
        a = self.query(
            "ec2",
            {
                "Action": "DescribeNetworkInterfaces",
                "Version": "2016-11-15",
                "Filter.1.Name": "group-id",
                "Filter.1.Value.1": group,
            },
        )
        if a.status != 200:
            return []
        return [local_text(i, "networkInterfaceId") for i in local_children(ET.fromstring(a.body), "networkInterfaceSet", "item")]

    def groups_referencing(self, group):
        a = self.query("ec2", {"Action": "DescribeSecurityGroups", "Version": "2016-11-15"})
        if a.status != 200:
            return []
        out = []
        for item in local_children(ET.fromstring(a.body), "securityGroupInfo", "item"):
            gid = local_text(item, "groupId")
            if gid == group:
                continue  # a group's rule naming itself does not hold it
            for rules in ("ipPermissions", "ipPermissionsEgress"):
                for rule in local_children(item, rules, "item"):
                    if any(local_text(pair, "groupId") == group for pair in local_children(rule, "groups", "item")):
                        out.append(gid)
        return out

    def group_id(self, name):
        a = self.query(
            "ec2", {"Action": "DescribeSecurityGroups", "Version": "2016-11-15", "GroupName.1": name}
        )
        if a.status != 200:
            return None
        ids = [local_text(i, "groupId") for i in local_children(ET.fromstring(a.body), "securityGroupInfo", "item")]
        return ids[0] if ids else None


# ------------------------------------------------------------------------------------------------
# Realism: before forwarding (may answer instead of moto) and after (tracks state, rewrites)


def role_name(arn):
    return (arn or "").rsplit("/", 1)[-1]


def rds_key(req, ident):
    return (req.account, req.region, (ident or "").lower())


# EC2's character sets (EC2 API reference: CreateSecurityGroup's GroupName and Description, IpRange's
# and UserIdGroupPair's Description): letters, digits, spaces and this punctuation; a group pair's
# rule description does not take "&". moto takes any text.
EC2_GROUP_TEXT = re.compile(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$")
EC2_PAIR_TEXT = re.compile(r"^[A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}$")
EC2_RULE_OPS = (
    "AuthorizeSecurityGroupIngress",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "ModifySecurityGroupRules",
)


def ec2_text_refusal(req):
    """The message EC2 gives for a name or description outside its character set, or None."""
    checks = []
    if req.operation == "CreateSecurityGroup":
        checks += [("GroupName", EC2_GROUP_TEXT), ("GroupDescription", EC2_GROUP_TEXT)]
    elif req.operation in EC2_RULE_OPS:
        for k in req.params:
            if k.endswith("Description") and ".IpRanges." in k:
                checks.append((k, EC2_GROUP_TEXT))
            elif k.endswith("Description") and (".Groups." in k or ".ReferencedGroupId" in k or "SecurityGroupRule." in k):
                checks.append((k, EC2_PAIR_TEXT if ".Groups." in k else EC2_GROUP_TEXT))
    for key, allowed in checks:
        value = req.params.get(key)
        if value is not None and not allowed.match(value):
            if key in ("GroupName", "GroupDescription"):
                return f"Value ({value}) for parameter {key} is invalid. Character sets beyond ASCII are not supported."
            return (
                "Invalid rule description. Valid descriptions are strings less than 256 characters from the following set:"
                "  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
            )
    return None


def groups_named(req):
    """The security group ids a call that can meet a new group names."""
    if req.service == "ec2" and req.operation in ("AuthorizeSecurityGroupIngress", "ModifySecurityGroupRules"):
        return [v for k, v in req.params.items() if k == "GroupId" or k.endswith(".GroupId") or k.endswith("ReferencedGroupId")]
    if req.service == "lambda" and req.operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        return list(((req.json or {}).get("VpcConfig") or {}).get("SecurityGroupIds") or [])
    if req.service == "rds" and req.operation in ("CreateDBInstance", "ModifyDBInstance"):
        return [v for k, v in req.params.items() if k.startswith("VpcSecurityGroupIds.")]
    return []


def unseen_group(world, req):
    """A new group this call names that EC2 does not show yet (its refusals are counted down)."""
    if not world.opts["ec2_unseen_calls"]:
        return None
    with world.lock:
        for g in groups_named(req):
            left = world.unseen_groups.get(g, 0)
            if left > 0:
                world.unseen_groups[g] = left - 1
                return g
    return None


def unseen_answer(req, group):
    """How each service says it cannot see a group yet (EC2's code, as Lambda and RDS relay it)."""
    missing = f"The security group '{group}' does not exist"
    if req.service == "lambda":
        return error_answer(
            req,
            "InvalidParameterValueException",
            400,
            f"Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: {missing}",
        )
    if req.service == "rds":
        return error_answer(req, "InvalidParameterValue", 400, f"Invalid security group , groupId= {group} , groupName=.")
    return error_answer(req, "InvalidGroup.NotFound", 400, missing)


def conformance_module():
    """conformance.py beside this file, imported on first use (it loads botocore)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import conformance

    return conformance


def conformance_before(world, req):
    """AWS's answer to a request its API model forbids (see conformance.py), or None to go on."""
    conformance = conformance_module()
    op, found = world.checker().check(req.service, req.method, req.path, req.headers, req.body)
    if op is None:
        return None  # not a call of a modelled service (moto-api, S3...)
    refused = [v for v in found if not conformance.allowed(req.service, op, v)]
    with world.lock:
        world.conformance_counts["checked"] += 1
        world.conformance_counts["allowed"] += len(found) - len(refused)
        if refused:
            world.conformance_counts["refused"] += 1
    if len(found) > len(refused):
        req.realism = "conformance allowed: " + "; ".join(v.summary() for v in found if v not in refused)
    if not refused:
        return None
    req.realism = f"conformance: {req.service}.{op} " + "; ".join(v.summary() for v in refused)
    code, status = conformance.error_code(req.service, refused[0].kind)
    n = len(refused)
    message = f"{n} validation error{'s' if n > 1 else ''} detected in {op}: " + "; ".join(v.message() for v in refused)
    return error_answer(req, code, status, message)



# ------------------------------------------------------------------------------------------------
# lambda_run: Lambda running the handler. moto without Docker answers Invoke with the payload and
# writes no log; this runs the Python handler of the code uploaded through the proxy (moto's
# GetFunction gives no location for a ZipFile upload) in a subprocess with the function's
# environment, and writes what it printed to /aws/lambda/<name> through moto's logs API, framed
# as Lambda frames it (START / END / REPORT lines; Lambda developer guide, "Working with Lambda
# function logs"). With `X-Amz-Log-Type: Tail` the answer carries the last 4 KB of that log,
# base64, in `X-Amz-Log-Result`; a handler that raises gives `X-Amz-Function-Error: Unhandled`
# and Lambda's error document (Lambda API reference, Invoke).

RUNNER = r"""
import importlib, json, sys, traceback
code, handler, out, name, rid = sys.argv[1:6]
sys.path.insert(0, code)
event = json.load(sys.stdin)
class Context:
    function_name = name
    function_version = "$LATEST"
    aws_request_id = rid
    memory_limit_in_mb = "128"
    def get_remaining_time_in_millis(self):
        return 3000
module, fn = handler.rsplit(".", 1)
try:
    res = {"ok": getattr(importlib.import_module(module), fn)(event, Context())}
except Exception as e:
    print(f"[ERROR] {type(e).__name__}: {e}")
    traceback.print_exc(file=sys.stdout)
    res = {"error": {"errorMessage": str(e), "errorType": type(e).__name__,
                     "requestId": rid, "stackTrace": traceback.format_tb(e.__traceback__)}}
sys.stdout.flush()
with open(out, "w") as f:
    json.dump(res, f, default=str)
"""


def logs_call(upstream, op, body):
    h = upstream._headers("logs")
    h["Content-Type"] = "application/x-amz-json-1.1"
    h["X-Amz-Target"] = f"Logs_20140328.{op}"
    return forward(upstream.addr, "POST", "/", h, json.dumps(body).encode(), timeout=60)


def lambda_run(world, upstream, req):
    """The handler's answer to an Invoke, or None (moto answers) when the proxy has no code."""
    with world.lock:
        code = world.function_code.get((req.account, req.region, req.function))
    if code is None:
        return None
    conf = upstream.lambda_get(f"/2015-03-31/functions/{urllib.parse.quote(req.function, safe='')}/configuration")
    if conf.status != 200:
        return None
    conf = json.loads(conf.body)
    rid = str(uuid.uuid4())
    started = time.time()
    with tempfile.TemporaryDirectory() as d:
        zipfile.ZipFile(io.BytesIO(code)).extractall(os.path.join(d, "code"))
        out = os.path.join(d, "result.json")
        env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
        env.update((conf.get("Environment") or {}).get("Variables") or {})
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": req.function,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": req.region,
            "AWS_DEFAULT_REGION": req.region,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{req.function}",
        })
        run = subprocess.run(
            [sys.executable, "-c", RUNNER, os.path.join(d, "code"), conf.get("Handler", ""), out, req.function, rid],
            input=req.body or b"{}",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=max(3, int(conf.get("Timeout") or 3)),
        )
        printed = run.stdout.decode("utf-8", "replace")
        try:
            with open(out) as f:
                res = json.load(f)
        except (OSError, ValueError):
            res = {"error": {"errorMessage": f"Runtime exited with error: exit status {run.returncode}",
                             "errorType": "Runtime.ExitError"}}
    ms = (time.time() - started) * 1000
    lines = [f"START RequestId: {rid} Version: $LATEST"]
    lines += printed.splitlines()
    lines += [f"END RequestId: {rid}", f"REPORT RequestId: {rid}\tDuration: {ms:.2f} ms\tBilled Duration: {int(ms) + 1} ms"]
    group = f"/aws/lambda/{req.function}"
    stream = time.strftime("%Y/%m/%d/", time.gmtime()) + "[$LATEST]" + uuid.uuid4().hex
    logs_call(upstream, "CreateLogGroup", {"logGroupName": group})  # an existing group: refused, fine
    logs_call(upstream, "CreateLogStream", {"logGroupName": group, "logStreamName": stream})
    now = int(time.time() * 1000)
    logs_call(upstream, "PutLogEvents", {
        "logGroupName": group,
        "logStreamName": stream,
        "logEvents": [{"timestamp": now, "message": line} for line in lines],
    })
    headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST"), ("x-amzn-RequestId", rid)]
    if "error" in res:
        headers.append(("X-Amz-Function-Error", "Unhandled"))
        body = json.dumps(res["error"]).encode()
    else:
        body = json.dumps(res["ok"]).encode()
    if (req.headers.get("x-amz-log-type") or "").lower() == "tail":
        tail = ("\n".join(lines) + "\n").encode()[-4096:]
        headers.append(("X-Amz-Log-Result", base64.b64encode(tail).decode()))
    req.realism = "lambda:run"
    return Answer(200, headers, body)


def before(world, upstream, req, now):
    """An answer that replaces moto's, or None to forward. May stash context on `req`."""
    o = world.opts
    if o["rds_versions"] and req.service == "rds":
        a = rds_versions_before(world, req)
        if a:
            return a
    if o["rds"] and req.service == "rds":
        a = rds_before(world, upstream, req, now)
        if a:
            return a
    if o["lambda_run"] and req.service == "lambda" and req.operation == "Invoke":
        a = lambda_run(world, upstream, req)
        if a:
            return a
    if req.service == "lambda":
        if o["lambda"] and req.operation in ("UpdateFunctionConfiguration", "UpdateFunctionCode", "PublishVersion"):
            with world.lock:
                f = world.functions.get((req.account, req.region, req.function))
                pending = f is not None and now < f.pending_until
                updating = f is not None and now < f.updating_until
            arn = f"arn:aws:lambda:{req.region}:{req.account}:function:{req.function}"
            if pending:
                req.realism = "lambda:conflict"
                return error_answer(
                    req,
                    "ResourceConflictException",
                    409,
                    "The operation cannot be performed at this time. The function is currently in the following state: Pending",
                )
            if updating:
                req.realism = "lambda:conflict"
                return error_answer(
                    req,
                    "ResourceConflictException",
                    409,
                    f"The operation cannot be performed at this time. An update is in progress for resource: {arn}",
                )
        if o["iam"] and req.operation in ("CreateFunction", "UpdateFunctionConfiguration") and req.json:
            role = req.json.get("Role")
            if role:
                with world.lock:
                    young = world.roles.get((req.account, role_name(role)))
                    refuse = young is not None and (now - young[0] < o["iam_role_delay_s"] or young[1] > 0)
                    if refuse:
                        young[1] -= 1
                if refuse:
                    req.realism = "iam:role-not-assumable"
                    return error_answer(
                        req,
                        "InvalidParameterValueException",
                        400,
                        "The role defined for the function cannot be assumed by Lambda.",
                    )
        if o["ec2"] and req.operation in ("DeleteFunction", "UpdateFunctionConfiguration"):
            # The groups the function holds now: those it leaves keep their ENIs for a while.
            if req.operation == "DeleteFunction" or (req.json or {}).get("VpcConfig") is not None:
                req.held_groups = upstream.function_groups(req.function)
    if o["cognito"] and req.service == "cognito-idp" and req.operation in ("UpdateUserPool", "CreateUserPool"):
        # Cognito refuses the deprecated member beside TemporaryPasswordValidityDays; the proxy
        # refuses it whenever it is sent at all, so a client that always writes it is caught.
        if "UnusedAccountValidityDays" in ((req.json or {}).get("AdminCreateUserConfig") or {}):
            req.realism = "cognito:UnusedAccountValidityDays"
            return error_answer(
                req,
                "InvalidParameterException",
                400,
                "Please use TemporaryPasswordValidityDays in PasswordPolicy instead of UnusedAccountValidityDays",
            )
    unseen = unseen_group(world, req)
    if unseen:
        req.realism = f"ec2:unseen ({unseen})"
        return unseen_answer(req, unseen)
    if o["ec2"] and req.service == "ec2":
        refused = ec2_text_refusal(req)
        if refused:
            req.realism = "ec2:charset"
            return error_answer(req, "InvalidParameterValue", 400, refused)
    if o["ec2"] and req.service == "ec2" and req.operation == "DeleteSecurityGroup":
        group = req.params.get("GroupId") or upstream.group_id(req.params.get("GroupName", ""))
        if group:
            why = group_in_use(world, upstream, req, group, now)
            if why:
                req.realism = f"ec2:dependency ({why})"
                return error_answer(req, "DependencyViolation", 400, f"resource {group} has a dependent object")
    return None


def group_in_use(world, upstream, req, group, now):
    with world.lock:
        hold = world.eni_hold.get((req.account, req.region, group))
        held = hold is not None and (now < hold[0] or hold[1] > 0)
        if held:
            hold[1] -= 1
        ghosts = [
            xml_text(r.ghost, "DBInstanceIdentifier")
            for (acct, region, _), r in world.rds.items()
            if acct == req.account
            and region == req.region
            and r.ghost is not None
            and now < r.ghost_until
            and f"<VpcSecurityGroupId>{group}</VpcSecurityGroupId>" in r.ghost
        ]
    if held:
        return "Lambda network interfaces not yet released"
    if ghosts:
        return f"deleting DB instance {ghosts[0]}"
    for check, what in (
        (upstream.functions_using, "function"),
        (upstream.instances_using, "DB instance"),
        (upstream.enis_using, "network interface"),
        (upstream.groups_referencing, "rule of group"),
    ):
        users = check(group)
        if users:
            return f"{what} {users[0]}"
    return None


# ModifyDBInstance members that change the storage (RDS User Guide, "Working with storage for
# Amazon RDS DB instances": after a storage change the instance is in `storage-optimization`, and
# "You can't make further storage modifications for either six (6) hours or until storage
# optimization has completed on the instance, whichever is longer").
STORAGE_PARAMS = ("AllocatedStorage", "StorageType", "Iops", "StorageThroughput")
# Applied by RDS without a PendingModifiedValues member: DescribeDBInstances shows the old value
# for a while after an accepted ModifyDBInstance. Request member -> DBInstance element(s).
LAZY_PARAMS = {
    "PubliclyAccessible": ("PubliclyAccessible",),
    "DeletionProtection": ("DeletionProtection",),
    "EnablePerformanceInsights": ("PerformanceInsightsEnabled", "PerformanceInsightsRetentionPeriod"),
    "PerformanceInsightsRetentionPeriod": ("PerformanceInsightsEnabled", "PerformanceInsightsRetentionPeriod"),
}


def pi_elements(params, before=None):
    """PerformanceInsights* elements after a Create/Modify with `params` (RDS reports them on
    every instance; moto on none)."""
    out = dict(before or {"PerformanceInsightsEnabled": "false"})
    enabled = params.get("EnablePerformanceInsights")
    if enabled is not None:
        out["PerformanceInsightsEnabled"] = enabled.lower()
    if out["PerformanceInsightsEnabled"] == "true":
        out["PerformanceInsightsRetentionPeriod"] = params.get(
            "PerformanceInsightsRetentionPeriod", out.get("PerformanceInsightsRetentionPeriod", "7")
        )
    else:
        out.pop("PerformanceInsightsRetentionPeriod", None)
    return out


def rds_before(world, upstream, req, now):
    op = req.operation
    ident = req.params.get("DBInstanceIdentifier")
    if not ident or op not in (
        "CreateDBInstance",
        "ModifyDBInstance",
        "StopDBInstance",
        "StartDBInstance",
        "DeleteDBInstance",
    ):
        return None
    with world.lock:
        r = world.rds.get(rds_key(req, ident))
        state = r.effective(now) if r else None
        ghost = r is not None and r.ghost is not None and now < r.ghost_until
    if op == "CreateDBInstance":
        if ghost:
            # moto forgot it; AWS still has the name taken until the delete finishes.
            req.realism = "rds:DBInstanceAlreadyExists (deleting)"
            return error_answer(req, "DBInstanceAlreadyExists", 400, "DB instance already exists")
        return None
    if state is None:
        return None  # not seen through the proxy: moto decides
    ident = ident.lower()
    message = None
    if op == "DeleteDBInstance":
        if ghost:
            message = f"Instance {ident} is already being deleted."
        elif state == "creating" and req.params.get("SkipFinalSnapshot", "false").lower() != "true":
            message = f"Instance {ident} is currently creating - a final snapshot cannot be taken."
    elif op == "ModifyDBInstance" and state not in ("available", "storage-optimization"):
        # A stopped instance too (RDS User Guide, "Stopping an Amazon RDS DB instance
        # temporarily": a stopped instance cannot be modified).
        message = "Database instance is not in available state."
    elif op == "ModifyDBInstance" and state == "storage-optimization" and any(p in req.params for p in STORAGE_PARAMS):
        req.realism = "rds:InvalidParameterCombination (storage-optimization)"
        return error_answer(
            req,
            "InvalidParameterCombination",
            400,
            "You can't currently modify the storage of this DB instance because the previous storage change is being optimized.",
        )
    elif op == "StopDBInstance" and state != "available":
        message = f"Instance {ident} is not in available state."
    elif op == "StartDBInstance" and state != "stopped":
        message = (
            f"Instance {ident} cannot be started as it is not in one of the following statuses: "
            "'stopped, inaccessible-encryption-credentials-recoverable, incompatible-network "
            "(only valid for non-SqlServer instances)'."
        )
    if message:
        req.realism = f"rds:InvalidDBInstanceState ({state})"
        return error_answer(req, "InvalidDBInstanceState", 400, message)
    if op == "DeleteDBInstance":
        with world.lock:
            still = r.lazy.get("DeletionProtection") if now < r.lazy_until else None
        if still == "true":
            # RDS still holds the protection it was asked to drop a moment ago.
            req.realism = "rds:lazy DeletionProtection"
            return error_answer(
                req,
                "InvalidParameterCombination",
                400,
                "Cannot delete protected DB Instance, please disable deletion protection and try again.",
            )
    if op == "ModifyDBInstance" and world.opts["rds_lazy_s"] > 0 and any(p in req.params for p in LAZY_PARAMS):
        # What DescribeDBInstances shows now is what it keeps showing for a while.
        a = upstream.query(
            "rds", {"Action": "DescribeDBInstances", "Version": "2014-10-31", "DBInstanceIdentifier": ident}
        )
        blocks = DB_INSTANCE.findall(a.body.decode()) if a.status == 200 else []
        if blocks:
            with world.lock:
                pi = dict(r.pi or {})
                lazy_now = dict(r.lazy) if now < r.lazy_until else {}
            old = {}
            for p in req.params:
                for el in LAZY_PARAMS.get(p, ()):
                    if el in lazy_now:
                        old[el] = lazy_now[el]  # still showing an older value
                    elif el.startswith("PerformanceInsights"):
                        old[el] = pi.get(el)
                    else:
                        old[el] = xml_text(blocks[0], el)
            req.rds_lazy_old = old
    return None


# ------------------------------------------------------------------------------------------------
# RDS engine versions: RDS creates only the versions DescribeDBEngineVersions lists as available
# (it retires minors on a schedule), creates a major's default minor when given a major alone, and
# upgrades minors by itself (auto minor version upgrade, forced upgrades off a retired minor).
# moto answers DescribeDBEngineVersions with a 500 and creates whatever version it is given.


def version_key(v):
    return [int(p) if p.isdigit() else 0 for p in re.split(r"[.-]", v)]


def pg_major(v):
    parts = v.split(".")
    return ".".join(parts[:2]) if parts and parts[0].isdigit() and int(parts[0]) < 10 else parts[0]


def available_versions(world):
    """{major: [versions, oldest first]} from the `rds_available` option."""
    out = {}
    for v in (x.strip() for x in (world.opts["rds_available"] or "").split(",")):
        if v:
            out.setdefault(pg_major(v), []).append(v)
    for vs in out.values():
        vs.sort(key=version_key)
    return out


def resolve_version(world, wanted):
    """The version RDS creates for `wanted` (None: the engine's default), or None if it creates
    none: a full version only when listed, a major alone as that major's default (its newest)."""
    majors = available_versions(world)
    if not majors:
        return None
    if not wanted:
        return majors[max(majors, key=version_key)][-1]
    if wanted in majors:
        return majors[wanted][-1]
    return wanted if wanted in majors.get(pg_major(wanted), []) else None


def engine_versions_response(versions, marker):
    rid = str(uuid.uuid4())
    items = "".join(
        "<DBEngineVersion><Engine>postgres</Engine>"
        f"<EngineVersion>{v}</EngineVersion><MajorEngineVersion>{pg_major(v)}</MajorEngineVersion>"
        f"<DBParameterGroupFamily>postgres{pg_major(v)}</DBParameterGroupFamily>"
        "<DBEngineDescription>PostgreSQL</DBEngineDescription>"
        f"<DBEngineVersionDescription>PostgreSQL {v}-R1</DBEngineVersionDescription>"
        "<Status>available</Status></DBEngineVersion>"
        for v in versions
    )
    more = f"<Marker>{marker}</Marker>" if marker else ""
    return (
        f'<DescribeDBEngineVersionsResponse xmlns="{XMLNS["rds"]}"><DescribeDBEngineVersionsResult>'
        f"<DBEngineVersions>{items}</DBEngineVersions>{more}</DescribeDBEngineVersionsResult>"
        f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></DescribeDBEngineVersionsResponse>"
    )


def rds_versions_before(world, req):
    op, p = req.operation, req.params
    if op == "DescribeDBEngineVersions" and p.get("Engine") == "postgres":
        majors = available_versions(world)
        wanted = p.get("EngineVersion")
        if p.get("DefaultOnly", "false").lower() == "true":
            found = [resolve_version(world, wanted)] if not wanted or wanted in majors else []
            found = [v for v in found if v]
        else:
            found = sorted((v for vs in majors.values() for v in vs), key=version_key)
            if wanted:
                found = [v for v in found if v == wanted]
        # Pages of MaxRecords (20 to 100, default 100), the marker being the next offset.
        size = max(20, min(100, int(p.get("MaxRecords") or 100)))
        start = int(p.get("Marker", "0") or 0) if (p.get("Marker") or "0").isdigit() else 0
        page, rest = found[start:start + size], start + size < len(found)
        req.realism = f"rds:engine-versions ({len(page)})"
        return Answer(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", str(uuid.uuid4()))],
                      engine_versions_response(page, str(start + size) if rest else None).encode())
    if op == "CreateDBInstance" and p.get("Engine") == "postgres":
        wanted = p.get("EngineVersion")
        if resolve_version(world, wanted) is None:
            req.realism = "rds:unknown-version"
            return error_answer(req, "InvalidParameterCombination", 400, f"Cannot find version {wanted} for postgres")
    return None


def rds_versions_request(world, req, body):
    """The body to forward: a major alone (or no version) resolved to the version RDS creates."""
    op, p = req.operation, req.params
    if op not in ("CreateDBInstance", "ModifyDBInstance") or not p:
        return body
    wanted = p.get("EngineVersion")
    if op == "CreateDBInstance" and p.get("Engine") != "postgres":
        return body
    if op == "ModifyDBInstance" and not wanted:
        return body
    resolved = resolve_version(world, wanted)
    if not resolved or resolved == wanted:
        return body
    req.realism = f"rds:version {wanted or '(default)'} -> {resolved}"
    params = dict(p, EngineVersion=resolved)
    return urllib.parse.urlencode(params).encode()


def set_engine_version(block, version):
    """The instance's own EngineVersion, not the one inside PendingModifiedValues."""
    pending = re.search(r"<PendingModifiedValues>.*?</PendingModifiedValues>", block, re.S)
    hole = "\0pending\0"
    masked = block.replace(pending.group(0), hole, 1) if pending else block
    masked = re.sub(r"<EngineVersion>[^<]*</EngineVersion>", f"<EngineVersion>{version}</EngineVersion>", masked, count=1)
    return masked.replace(hole, pending.group(0), 1) if pending else masked


def rds_versions_after(world, req, answer):
    ident = (req.params.get("DBInstanceIdentifier") or "").lower()
    with world.lock:
        if answer.status == 200 and req.operation in ("ModifyDBInstance", "DeleteDBInstance") and (
            req.operation == "DeleteDBInstance" or req.params.get("EngineVersion")
        ):
            # The version the call set (or the instance is going): the upgrade is forgotten.
            world.engine_upgrades.pop((req.account, req.region, ident), None)
        upgrades = {k[2]: v for k, v in world.engine_upgrades.items() if k[:2] == (req.account, req.region)}
    if not upgrades or "<DBInstance>" not in answer.body.decode("utf-8", "replace"):
        return

    def rewrite(m):
        block = m.group(0)
        v = upgrades.get((xml_text(block, "DBInstanceIdentifier") or "").lower())
        if v is None:
            return block
        req.realism = req.realism or f"rds:upgraded to {v}"
        return set_engine_version(block, v)

    answer.body = DB_INSTANCE.sub(rewrite, answer.body.decode()).encode()


# ------------------------------------------------------------------------------------------------
# Small pages: list calls answered a few items at a time, so a client's pagination is exercised
# without creating thousands of resources. Where moto paginates, the request's page size is
# rewritten; where it does not, the proxy pages moto's full answer itself, with its own tokens.

# operation -> (where moto paginates: the request's page-size parameter | None, the list in the answer)
PAGED = {
    ("ec2", "DescribeSecurityGroups"): (None, "securityGroupInfo"),
    ("ec2", "DescribeSecurityGroupRules"): (None, "securityGroupRuleSet"),
    ("lambda", "ListFunctions"): (None, "Functions"),
    ("cognito-idp", "ListUserPools"): ("MaxResults", None),
}
PAGE_TOKEN = "fidelity-page-"


def paging_request(world, req, body):
    """The body to forward: with the page size rewritten where moto paginates."""
    size = world.opts["page_size"]
    how = PAGED.get((req.service, req.operation))
    if not size or not how or not how[0] or req.json is None:
        return body
    req.json[how[0]] = size
    req.realism = f"page_size:{size}"
    return json.dumps(req.json).encode()


def page_offset(req):
    if req.service == "lambda":
        qs = urllib.parse.parse_qs(req.path.split("?", 1)[1]) if "?" in req.path else {}
        token = (qs.get("Marker") or [""])[0]
    else:
        token = req.params.get("NextToken", "")
    return int(token[len(PAGE_TOKEN):]) if token.startswith(PAGE_TOKEN) else 0


def page_after(world, req, answer):
    """Serves one page of moto's full answer, for the operations moto does not paginate."""
    size = world.opts["page_size"]
    how = PAGED.get((req.service, req.operation))
    if not size or not how or how[0] or answer.status != 200:
        return
    start = page_offset(req)
    if req.service == "lambda":
        doc = json.loads(answer.body)
        items = doc.get(how[1]) or []
        doc[how[1]] = items[start : start + size]
        doc.pop("NextMarker", None)
        if start + size < len(items):
            doc["NextMarker"] = f"{PAGE_TOKEN}{start + size}"
        answer.body = json.dumps(doc).encode()
    else:
        root = ET.fromstring(answer.body)
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        ET.register_namespace("", ns)
        lists = local_children(root, how[1])
        if not lists:
            return
        items = list(lists[0])
        for i, item in enumerate(items):
            if not start <= i < start + size:
                lists[0].remove(item)
        for old in [c for c in root if local(c.tag) == "nextToken"]:
            root.remove(old)
        if start + size < len(items):
            token = ET.SubElement(root, f"{{{ns}}}nextToken" if ns else "nextToken")
            token.text = f"{PAGE_TOKEN}{start + size}"
        answer.body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    req.realism = f"page:{start}+{size} of {len(items)}"


def pair_key(req, prefix, group_param="GroupId"):
    """(group, protocol, from, to, source group) of a query-protocol rule under `prefix`."""
    return (
        req.account,
        req.params.get(group_param, ""),
        req.params.get(prefix + "IpProtocol", "-1"),
        req.params.get(prefix + "FromPort", ""),
        req.params.get(prefix + "ToPort", ""),
    )


def ec2_rules_request(upstream, req, body):
    """moto matches a revoked group pair on its description too (AWS does not: the permission
    names the rule), so a revoke without it fails with InvalidPermission.NotFound. Adds moto's
    stored description to each group pair of a RevokeSecurityGroupIngress that has none."""
    if req.operation != "RevokeSecurityGroupIngress" or "GroupId" not in req.params:
        return body
    pairs = [k for k in req.params if re.match(r"IpPermissions\.\d+\.Groups\.\d+\.GroupId$", k)]
    missing = [k for k in pairs if k[: -len("GroupId")] + "Description" not in req.params]
    if not missing:
        return body
    a = upstream.query("ec2", {"Action": "DescribeSecurityGroups", "Version": "2016-11-15", "GroupId.1": req.params["GroupId"]})
    if a.status != 200:
        return body
    stored = {}
    for item in local_children(ET.fromstring(a.body), "securityGroupInfo", "item"):
        for perm in local_children(item, "ipPermissions", "item"):
            for pair in local_children(perm, "groups", "item"):
                key = (local_text(perm, "ipProtocol"), local_text(perm, "fromPort"), local_text(perm, "toPort"), local_text(pair, "groupId"))
                stored[key] = local_text(pair, "description")
    form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
    for k in missing:
        perm = k.split(".Groups.", 1)[0] + "."
        key = (req.params.get(perm + "IpProtocol"), req.params.get(perm + "FromPort"), req.params.get(perm + "ToPort"), req.params[k])
        if stored.get(key):
            form[k[: -len("GroupId")] + "Description"] = [stored[key]]
            req.realism = "ec2:revoke matched without description"
    return urllib.parse.urlencode(form, doseq=True).encode()


def ec2_rules_after(world, req, answer):
    """moto's ModifySecurityGroupRules writes a group-referencing rule's new description where
    DescribeSecurityGroups does not show it (AWS changes the rule in both views): the proxy
    remembers it and shows it there. (A changed source group is not corrected: moto ignores
    ReferencedGroupId in a modify.) Authorizing or revoking the permission forgets it."""
    op = req.operation
    if answer.status != 200:
        return
    with world.lock:
        if op == "ModifySecurityGroupRules":
            for n in range(1, 100):
                if f"SecurityGroupRule.{n}.SecurityGroupRuleId" not in req.params:
                    break
                prefix = f"SecurityGroupRule.{n}.SecurityGroupRule."
                src, desc = req.params.get(prefix + "ReferencedGroupId"), req.params.get(prefix + "Description")
                if src and desc is not None:
                    world.rule_descriptions[pair_key(req, prefix) + (src,)] = desc
        elif op in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"):
            for k in [k for k in req.params if re.match(r"IpPermissions\.\d+\.Groups\.\d+\.GroupId$", k)]:
                perm = k.split(".Groups.", 1)[0] + "."
                world.rule_descriptions.pop(pair_key(req, perm) + (req.params[k],), None)
        elif op == "DescribeSecurityGroups" and world.rule_descriptions:
            root = ET.fromstring(answer.body)
            ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
            changed = 0
            for item in local_children(root, "securityGroupInfo", "item"):
                gid = local_text(item, "groupId")
                for perm in local_children(item, "ipPermissions", "item"):
                    for pair in local_children(perm, "groups", "item"):
                        key = (req.account, gid, local_text(perm, "ipProtocol"), local_text(perm, "fromPort") or "", local_text(perm, "toPort") or "", local_text(pair, "groupId"))
                        if key not in world.rule_descriptions:
                            continue
                        d = [c for c in pair if local(c.tag) == "description"]
                        d = d[0] if d else ET.SubElement(pair, f"{{{ns}}}description" if ns else "description")
                        d.text = world.rule_descriptions[key]
                        changed += 1
            if changed:
                ET.register_namespace("", ns)
                answer.body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
                req.realism = f"ec2:{changed} modified rule description(s) shown"


def after(world, req, answer, now):
    """Tracks what AWS would be doing now and rewrites moto's answer to show it."""
    o = world.opts
    if req.service == "iam" and req.operation == "CreateRole" and answer.status == 200:
        name = req.params.get("RoleName")
        with world.lock:
            world.roles[(req.account, name)] = [now, o["iam_min_refusals"]]
    if o["ec2_unseen_calls"] and req.service == "ec2" and req.operation == "CreateSecurityGroup" and answer.status == 200:
        m = re.search(rb"<groupId>(sg-[0-9a-f]+)</groupId>", answer.body)
        if m:
            with world.lock:
                world.unseen_groups[m.group(1).decode()] = o["ec2_unseen_calls"]
    if o["rds"] and req.service == "rds":
        rds_after(world, req, answer, now)
    if o["rds_versions"] and req.service == "rds":
        rds_versions_after(world, req, answer)
    if req.service == "lambda":
        lambda_after(world, req, answer, now)
    if o["cognito"] and req.service == "cognito-idp":
        cognito_after(world, req, answer)
    if o["page_size"]:
        page_after(world, req, answer)


def cognito_after(world, req, answer):
    """AWS fixes UsernameAttributes at creation and always reports them; moto forgets them on
    the next UpdateUserPool. Shows what the pool was created with, as AWS would."""
    if answer.status != 200 or req.operation not in ("CreateUserPool", "DescribeUserPool"):
        return
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return
    pool = doc.get("UserPool") or {}
    with world.lock:
        if req.operation == "CreateUserPool":
            attrs = (req.json or {}).get("UsernameAttributes")
            if attrs and pool.get("Id"):
                world.username_attributes[pool["Id"]] = attrs
            return
        attrs = world.username_attributes.get(pool.get("Id"))
    if attrs and not pool.get("UsernameAttributes"):
        pool["UsernameAttributes"] = attrs
        req.realism = "cognito:UsernameAttributes kept"
        answer.body = json.dumps(doc).encode()


def rds_after(world, req, answer, now):
    o, op = world.opts, req.operation
    ident = req.params.get("DBInstanceIdentifier")
    ok = answer.status == 200
    with world.lock:
        if ok and ident and op in ("CreateDBInstance", "ModifyDBInstance", "StopDBInstance", "StartDBInstance"):
            r = world.rds.setdefault(rds_key(req, ident), RdsInstance())
            if op == "CreateDBInstance":
                r.ghost = None
                r.pi = pi_elements(req.params)
                r.lazy, r.lazy_until = {}, 0.0
                r.start(now, [("creating", o["rds_creating_s"]), ("backing-up", o["rds_backing_up_s"])], "available")
            elif op == "ModifyDBInstance":
                optimizing = r.phase_until("storage-optimization")
                phases = [("modifying", o["rds_modifying_s"])]
                if any(p in req.params for p in STORAGE_PARAMS):
                    phases.append(("storage-optimization", o["rds_storage_optimization_s"]))
                elif optimizing is not None and optimizing > now + o["rds_modifying_s"]:
                    # Other changes are allowed meanwhile; the optimization goes on.
                    phases.append(("storage-optimization", optimizing - now - o["rds_modifying_s"]))
                r.start(now, phases, "available")
                if r.pi is not None:
                    r.pi = pi_elements(req.params, r.pi)
                old = getattr(req, "rds_lazy_old", None)
                if old:
                    if now >= r.lazy_until:
                        r.lazy = {}
                    r.lazy.update(old)
                    r.lazy_until = now + o["rds_lazy_s"]
            elif op == "StopDBInstance":
                r.start(now, [("stopping", o["rds_stopping_s"])], "stopped")
            else:
                r.start(now, [("starting", o["rds_starting_s"])], "available")
        if ok and ident and op == "DeleteDBInstance":
            blocks = DB_INSTANCE.findall(answer.body.decode())
            if blocks:
                r = world.rds.setdefault(rds_key(req, ident), RdsInstance())
                r.phases, r.settled = [], None
                r.ghost = set_status(blocks[0], "deleting")
                r.ghost_until = now + o["rds_deleting_s"]
        # Forget ghosts that are gone, so a new instance of the same name starts clean.
        for k in [k for k, r in world.rds.items() if r.ghost is not None and now >= r.ghost_until]:
            del world.rds[k]
        if op not in ("DescribeDBInstances", "CreateDBInstance", "ModifyDBInstance", "StopDBInstance",
                      "StartDBInstance", "DeleteDBInstance", "RebootDBInstance"):
            return
        shown = {k: (r.status(now), r.ghost) for k, r in world.rds.items() if k[:2] == (req.account, req.region)}
        extra = {
            k[2]: (dict(r.pi or {}), dict(r.lazy) if now < r.lazy_until else {})
            for k, r in world.rds.items()
            if k[:2] == (req.account, req.region)
        }
    text = answer.body.decode("utf-8", "replace")

    def rewrite(m):
        block = m.group(0)
        ident = (xml_text(block, "DBInstanceIdentifier") or "").lower()
        pi, lazy = extra.get(ident, ({}, {}))
        for el, v in {**pi, **lazy}.items():
            block = set_element(block, el, v)
        if lazy:
            req.realism = req.realism or "rds:lazy " + ",".join(sorted(lazy))
        status = shown.get((req.account, req.region, ident), (None, None))[0]
        if status and status != "deleting":
            req.realism = req.realism or f"rds:{status}"
            return set_status(block, status)
        return block

    text = DB_INSTANCE.sub(rewrite, text)
    if op == "DescribeDBInstances" and not req.params.get("Marker"):
        ghosts = {k[2]: g for k, (s, g) in shown.items() if g is not None and s == "deleting"}
        wanted = req.params.get("DBInstanceIdentifier")
        filters = db_instance_filter(req)
        if wanted:
            g = ghosts.get(wanted.lower())
            if g is not None:
                # moto already forgot it: AWS still lists it while it is being deleted.
                req.realism = "rds:deleting"
                text = describe_response([g])
                answer.status = 200
                answer.headers = [(k, v) for k, v in answer.headers if k.lower() != "x-amzn-errortype"]
        elif ghosts and answer.status == 200:
            extra = [
                g for i, g in sorted(ghosts.items())
                if filters is None or i in filters or xml_text(g, "DBInstanceArn") in filters
            ]
            if extra:
                req.realism = "rds:deleting"
                text = text.replace("<DBInstances/>", "<DBInstances></DBInstances>")
                text = text.replace("</DBInstances>", "".join(extra) + "</DBInstances>", 1)
    answer.body = text.encode()


def db_instance_filter(req):
    """The db-instance-id filter's values (lower-cased ids or ARNs); None when there is none."""
    names = {k: v for k, v in req.params.items() if re.match(r"Filters\.Filter\.\d+\.Name$", k)}
    for k, v in names.items():
        if v == "db-instance-id":
            n = k.split(".")[2]
            return {x.lower() if not x.startswith("arn:") else x for x in req.list_param(f"Filters.Filter.{n}.Values")}
    if names:
        return set()  # other filters: a deleting instance is not claimed to match
    return None


def set_element(block, el, value):
    """Sets (None: removes) the instance's own `el`, outside PendingModifiedValues."""
    pending = re.search(r"<PendingModifiedValues>.*?</PendingModifiedValues>", block, re.S)
    hole = "\0pending\0"
    b = block.replace(pending.group(0), hole, 1) if pending else block
    b = re.sub(f"<{el}>[^<]*</{el}>", "", b)
    if value is not None:
        b = b.replace("</DBInstance>", f"<{el}>{value}</{el}></DBInstance>", 1)
    return b.replace(hole, pending.group(0), 1) if pending else b


def set_status(block, status):
    block = re.sub(r"<DBInstanceStatus>.*?</DBInstanceStatus>", f"<DBInstanceStatus>{status}</DBInstanceStatus>", block)
    if status == "creating":
        # AWS has no endpoint until the instance is past `creating`.
        block = re.sub(r"<Endpoint>.*?</Endpoint>", "", block, flags=re.S)
    return block


def describe_response(blocks):
    rid = str(uuid.uuid4())
    return (
        f'<DescribeDBInstancesResponse xmlns="{XMLNS["rds"]}"><DescribeDBInstancesResult><DBInstances>'
        + "".join(blocks)
        + f"</DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>{rid}</RequestId>"
        "</ResponseMetadata></DescribeDBInstancesResponse>"
    )


STATE_FIELDS = (
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
)


def lambda_after(world, req, answer, now):
    o, op = world.opts, req.operation
    key = (req.account, req.region, req.function)
    ok = 200 <= answer.status < 300
    if ok and o["lambda_run"] and op in ("CreateFunction", "UpdateFunctionCode"):
        body = req.json or {}
        zipped = (body.get("Code") or {}).get("ZipFile") if op == "CreateFunction" else body.get("ZipFile")
        name = function_name(body.get("FunctionName") or "") if op == "CreateFunction" else req.function
        if zipped:
            with world.lock:
                world.function_code[(req.account, req.region, name)] = base64.b64decode(zipped)
    with world.lock:
        if o["ec2"] and ok and getattr(req, "held_groups", None):
            keep = set()
            if op == "UpdateFunctionConfiguration":
                keep = set(((req.json or {}).get("VpcConfig") or {}).get("SecurityGroupIds") or [])
            for g in req.held_groups - keep:
                k = (req.account, req.region, g)
                until = max(world.eni_hold.get(k, [0.0])[0], now + o["ec2_eni_release_s"])
                world.eni_hold[k] = [until, o["ec2_min_refusals"]]
        if not o["lambda"]:
            return
        if ok and op == "CreateFunction":
            name = (req.json or {}).get("FunctionName")
            f = world.functions[(req.account, req.region, function_name(name or ""))] = LambdaFunction()
            f.pending_until = now + o["lambda_pending_s"]
        elif ok and op in ("UpdateFunctionConfiguration", "UpdateFunctionCode"):
            f = world.functions.setdefault(key, LambdaFunction())
            f.updating_until = now + o["lambda_updating_s"]
        elif ok and op == "DeleteFunction":
            world.functions.pop(key, None)
        views = {k: (now < f.pending_until, now < f.updating_until) for k, f in world.functions.items()}
    if not ok or op not in (
        "CreateFunction",
        "UpdateFunctionConfiguration",
        "UpdateFunctionCode",
        "GetFunction",
        "GetFunctionConfiguration",
        "ListFunctions",
    ):
        return
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return

    def show(cfg):
        name = cfg.get("FunctionName")
        pending, updating = views.get((req.account, req.region, name), (False, False))
        if pending:
            cfg.update(State="Pending", StateReason="The function is being created.", StateReasonCode="Creating")
            for k in ("LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                cfg.pop(k, None)
            req.realism = "lambda:Pending"
        elif updating:
            cfg.update(
                State="Active",
                LastUpdateStatus="InProgress",
                LastUpdateStatusReason="The function is being created.",
                LastUpdateStatusReasonCode="Creating",
            )
            req.realism = "lambda:InProgress"

    if op == "ListFunctions":
        # AWS's ListFunctions never returns the state fields (only GetFunction* do).
        for cfg in doc.get("Functions", []):
            for k in STATE_FIELDS:
                cfg.pop(k, None)
    elif op == "GetFunction":
        show(doc.get("Configuration") or {})
    else:
        show(doc)
    answer.body = json.dumps(doc).encode()


# ------------------------------------------------------------------------------------------------
# The server


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fidelity-proxy"
    sys_version = ""

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, answer):
        head = [f"HTTP/1.1 {answer.status} {http.client.responses.get(answer.status, 'Status')}"]
        for k, v in answer.headers:
            head.append(f"{k}: {v}")
        head.append(f"Content-Length: {len(answer.body)}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.command != "HEAD":
            data += answer.body
        self.wfile.write(data)
        self.wfile.flush()

    def handle_any(self):
        world, server = self.server.world, self.server
        started_wall, started = time.time(), time.monotonic()
        body = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path.startswith("/__fidelity__"):
            return self.control(body)
        req = Req(self.command, self.path, headers, body)
        req.realism = None
        fault = None

        def log(status):
            # Written before the client gets its answer, so a test that got one can read the line.
            server.log(
                {
                    "start": round(started_wall, 6),
                    "end": round(time.time(), 6),
                    "ms": round((time.monotonic() - started) * 1000, 1),
                    "service": req.service,
                    "operation": req.operation,
                    "method": self.command,
                    "path": self.path.split("?", 1)[0],
                    "account": req.account,
                    "status": status,
                    "fault": {"lose": "lost"}.get(fault, fault),
                    "realism": req.realism,
                }
            )

        try:
            if req.service == "moto-api":
                answer = forward(server.upstream, self.command, self.path, dict(self.headers.items()), body)
                log(answer.status)
                self.send(answer)
                return
            latency = world.opts["latency_ms"]
            if latency:
                time.sleep(latency / 1000.0)
            emptied = world.take_token(req, time.monotonic())
            fault = "throttle" if emptied else world.pick_fault(req.label())
            if emptied:
                req.realism = f"bucket:{emptied[len('bucket_'):]}"
            answer = None
            if fault == "throttle":
                answer = throttle_answer(req)
            elif fault == "error":
                answer = internal_answer(req)
            elif fault == "conflict":
                answer = conflict_answer(req)
            if answer is None:
                upstream = Upstream(server.upstream, req)
                # The request as the client sent it, before any rewrite of the proxy's own.
                if world.opts["conformance"]:
                    answer = conformance_before(world, req)
                if answer is None:
                    answer = before(world, upstream, req, time.monotonic())
                if answer is None:
                    body = paging_request(world, req, body)
                    if world.opts["rds_versions"] and req.service == "rds":
                        body = rds_versions_request(world, req, body)
                    if world.opts["ec2_rules"] and req.service == "ec2":
                        body = ec2_rules_request(upstream, req, body)
                    answer = forward(server.upstream, self.command, self.path, dict(self.headers.items()), body)
                    if world.opts["ec2_rules"] and req.service == "ec2":
                        ec2_rules_after(world, req, answer)
                    after(world, req, answer, time.monotonic())
            if fault == "lose":
                # AWS acted; the answer never arrives.
                log(None)
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault == "stall":
                time.sleep(world.opts["stall_s"])
            log(answer.status)
            try:
                self.send(answer)
            except OSError:
                self.close_connection = True  # the client gave up first (a stall it timed out)
        except Exception as e:  # never leave the client hanging on a proxy bug
            self.close_connection = True
            sys.stderr.write(f"fidelity_proxy: {req.label()}: {e!r}\n")
            log(502)
            try:
                self.send(Answer(502, [("Content-Type", "text/plain")], f"fidelity proxy: {e!r}".encode()))
            except OSError:
                pass

    def control(self, body):
        world = self.server.world
        try:
            if self.path.rstrip("/") == "/__fidelity__/reset" and self.command == "POST":
                with world.lock:
                    world.reset_state()
                out = {"reset": True}
            elif self.path.rstrip("/") == "/__fidelity__/rds-upgrade" and self.command == "POST":
                # RDS upgrading an instance's minor by itself: from now on it reports this version.
                ask = json.loads(body or b"{}")
                if not ask.get("id") or not ask.get("engine_version"):
                    raise ValueError("rds-upgrade needs id and engine_version")
                key = (ask.get("account", DEFAULT_ACCOUNT), ask.get("region", "us-east-1"), ask["id"].lower())
                with world.lock:
                    world.engine_upgrades[key] = ask["engine_version"]
                out = {"upgraded": list(key) + [ask["engine_version"]]}
            elif self.command == "POST":
                out = {"options": world.configure(json.loads(body or b"{}"))}
            else:
                with world.lock:
                    out = {"options": dict(world.opts), "faults": dict(world.counts)}
                    out["conformance"] = dict(world.conformance_counts)
                if world._checker is not None:
                    out.setdefault("conformance", {})["patterns_skipped"] = sorted(world._checker.patterns_skipped)
            self.send(Answer(200, [("Content-Type", "application/json")], json.dumps(out).encode()))
        except (ValueError, re.error) as e:
            self.send(Answer(400, [("Content-Type", "application/json")], json.dumps({"error": str(e)}).encode()))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Python's socketserver listens with a backlog of 5: the ~12 connections a plan opens at once
    # overflow it, the kernel drops the SYNs beyond it and the client retransmits them after the
    # initial 1 s RTO (a plan taking 1.1 s instead of 0.15 s in about half the runs). Real AWS
    # endpoints do not drop them; --listen-backlog 5 reproduces the effect.
    request_queue_size = 128

    def __init__(self, addr, upstream, world):
        super().__init__(addr, Handler)
        self.upstream = upstream
        self.world = world
        self.log_lock = threading.Lock()

    def log(self, record):
        path = self.world.opts["log"]
        if not path:
            return
        line = json.dumps(record) + "\n"
        with self.log_lock:
            with open(path, "a", encoding="utf-8") as f:
                f.write(line)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    p.add_argument("--port-file", help="also write the proxy's URL to this file")
    p.add_argument("--config", help="a JSON file of options (names as below, with underscores)")
    p.add_argument("--realism", action="store_true", help="turn on rds, lambda, iam, ec2 and rds_versions realism")
    p.add_argument("--listen-backlog", type=int, default=Server.request_queue_size,
                   help="the listening socket's backlog (default %(default)s; Python's default is 5)")
    for name, (default, typ, help_) in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        if typ is bool:
            p.add_argument(flag, dest=name, action="store_true", default=None, help=help_)
        else:
            p.add_argument(flag, dest=name, type=typ, default=None, help=f"{help_} (default {default})")
    a = p.parse_args(argv)
    opts = {k: v[0] for k, v in OPTIONS.items()}
    if a.config:
        with open(a.config, encoding="utf-8") as f:
            opts.update(check_options(json.load(f)))
    if a.realism:
        opts.update({k: True for k in REALISM})
    opts.update(check_options({k: getattr(a, k) for k in OPTIONS if getattr(a, k) is not None}))
    u = urllib.parse.urlsplit(a.upstream)
    if u.scheme != "http" or not u.hostname:
        p.error(f"--upstream must be http://HOST:PORT, got {a.upstream!r}")
    return a, (u.hostname, u.port or 80), opts


def main(argv=None):
    a, upstream, opts = parse_args(sys.argv[1:] if argv is None else argv)
    Server.request_queue_size = a.listen_backlog
    server = Server((a.host, a.port), upstream, World(opts))
    url = f"http://{server.server_address[0]}:{server.server_address[1]}"
    if a.port_file:
        with open(a.port_file, "w", encoding="utf-8") as f:
            f.write(url + "\n")
    print(url, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
