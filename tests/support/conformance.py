"""Conformance of requests to the AWS API models: each request a client sends, read back from the
wire into the operation's parameters and checked against the operation's input shape in botocore's
own copy of the service model (botocore/data/<service>/<version>/service-2.json.gz, the models
AWS publishes for its SDKs). moto accepts shapes AWS refuses (a description too long, an enum value
AWS does not know, a member AWS does not have); this check refuses them as AWS's front end would.

What is checked, per member: required members present, no member the model lacks, the type, string
and list lengths (min and max), number ranges (min and max), enum values, and patterns. Patterns
are Java regular expressions matched against the whole value; they are compiled with the `regex`
module (which knows `\\p{L}` and the like) or, without it, Python's `re`; a pattern neither can
compile is skipped and counted (`Checker.patterns_skipped`).

botocore's ParamValidator (what boto3 runs before sending) does the required, unknown, type and
minimum checks; `Validator` below adds the maxima, enums and patterns it leaves to the server.

Wire forms read back (botocore/serialize.py is the reference for each):
- query (RDS, IAM, STS): `Action`, `Version`, `Member.Sub`, lists `Name.member.N` (or the member's
  locationName instead of `member`; flattened lists `Name.N`), maps `Name.entry.N.key/value`,
  an empty list as `Name=`;
- ec2: like query but names from `queryName` or the capitalised `locationName`, lists `Name.N`;
- rest-json (Lambda): the operation from the method and `requestUri`, members from the path, the
  query string, headers and the JSON body (or the payload member);
- json (Cognito, SSM, Resource Groups Tagging): `X-Amz-Target: Prefix.Operation` and the JSON body.
"""

import base64
import binascii
import json
import re
import threading
import urllib.parse

try:
    import regex as java_re  # \p{L}, \p{Z}... as in the Java patterns of the models
except ImportError:  # pragma: no cover - the venv has it (moto depends on it)
    java_re = re

import botocore.loaders
import botocore.model
import botocore.validate

# The proxy's service name -> botocore's.
BOTOCORE_NAME = {
    "ec2": "ec2",
    "rds": "rds",
    "iam": "iam",
    "sts": "sts",
    "lambda": "lambda",
    "cognito-idp": "cognito-idp",
    "ssm": "ssm",
    "tagging": "resourcegroupstaggingapi",
}

# Findings that are not deploy's to fix, each with why: (service, operation, member path regex,
# rule kind) -> reason. A finding matching an entry is logged as allowed and forwarded.
ALLOWED = {}

# The error each service answers a malformed request with: kind -> (code, HTTP status). The JSON
# and REST services use one validation code for everything; EC2 and the query services name the
# missing or unknown parameter in the code (API references, "Common Errors").
ERROR_CODES = {
    "ec2": {"missing": "MissingParameter", "unknown": "UnknownParameter", "*": "InvalidParameterValue"},
    "rds": {"missing": "MissingParameter", "*": "InvalidParameterValue"},
    "iam": {"*": "ValidationError"},
    "sts": {"*": "ValidationError"},
    "lambda": {"*": "ValidationException"},
    "cognito-idp": {"*": "InvalidParameterException"},
    "ssm": {"*": "ValidationException"},
    "tagging": {"*": "InvalidParameterException"},
}

MISSING = object()
SECRET_NAME = re.compile(r"password|secret|token|credential|privatekey", re.I)


def error_code(service, kind):
    codes = ERROR_CODES.get(service, {"*": "ValidationException"})
    return codes.get(kind, codes["*"]), 400


class Violation:
    """One rule a request breaks. `member` is the path in the model's names (`IpPermissions[0].FromPort`)."""

    def __init__(self, kind, member, rule, value=MISSING):
        self.kind = kind  # missing, unknown, type, length, range, enum, pattern
        self.member = member
        self.rule = rule
        self.value = value  # MISSING, or the value as shown (None when it must not be shown)

    def message(self):
        at = self.member or "input"
        if self.kind == "missing":
            return f"Value null at '{at}' failed to satisfy constraint: Member must not be null"
        if self.kind == "unknown":
            return f"Unknown parameter '{at}': {self.rule}"
        shown = "***" if self.value is None else f"'{self.value}'"
        return f"Value {shown} at '{at}' failed to satisfy constraint: {self.rule}"

    def summary(self):
        """Short form for the log: member, rule kind and rule (never a value)."""
        return f"{self.member or 'input'}: {self.kind} ({self.rule})"

    def __repr__(self):
        return f"Violation({self.summary()})"


# ------------------------------------------------------------------------------------------------
# Checking a parameters dict against a shape


class Validator(botocore.validate.ParamValidator):
    """botocore's validator, plus what it leaves to the server: maxima, enums and patterns."""

    # So a list of plain strings with only an enum or a pattern is still walked item by item.
    VALIDATED_METADATA_ATTRS = botocore.validate.ParamValidator.VALIDATED_METADATA_ATTRS | {"max", "enum", "pattern"}

    def __init__(self, compile_pattern):
        super().__init__()
        self._compile = compile_pattern

    def _validate_string(self, param, shape, errors, name):
        super()._validate_string(param, shape, errors, name)
        if not isinstance(param, str):
            return
        md = shape.metadata
        if "max" in md and len(param) > md["max"]:
            errors.report(name, "too long", param=param, shape=shape, max_allowed=md["max"])
        enum = md.get("enum")
        if enum and param not in enum:
            errors.report(name, "not in enum", param=param, shape=shape, enum=enum)
        if "pattern" in md:
            compiled = self._compile(md["pattern"])
            if compiled is not None and not compiled.fullmatch(param):
                errors.report(name, "pattern", param=param, shape=shape, pattern=md["pattern"])

    def _number_max(self, param, shape, errors, name):
        if isinstance(param, (int, float)) and not isinstance(param, bool):
            if "max" in shape.metadata and param > shape.metadata["max"]:
                errors.report(name, "too large", param=param, shape=shape, max_allowed=shape.metadata["max"])

    def _validate_integer(self, param, shape, errors, name):
        super()._validate_integer(param, shape, errors, name)
        self._number_max(param, shape, errors, name)

    def _validate_long(self, param, shape, errors, name):
        super()._validate_long(param, shape, errors, name)
        self._number_max(param, shape, errors, name)

    def _validate_double(self, param, shape, errors, name):
        super()._validate_double(param, shape, errors, name)
        self._number_max(param, shape, errors, name)

    _validate_float = _validate_double

    def _validate_list(self, param, shape, errors, name):
        super()._validate_list(param, shape, errors, name)
        if isinstance(param, (list, tuple)) and "max" in shape.metadata and len(param) > shape.metadata["max"]:
            errors.report(name, "too many", param=param, shape=shape, max_allowed=shape.metadata["max"])

    def _validate_map(self, param, shape, errors, name):
        if not isinstance(param, dict):
            return super()._validate_map(param, shape, errors, name)  # reports the type
        # As botocore's, except that a sensitive key (a Lambda environment variable's name) is
        # not written into the member's path, which messages and the log show.
        for key, value in param.items():
            shown_key = "***" if shape.key.metadata.get("sensitive") or SECRET_NAME.search(str(key)) else key
            self._validate(key, shape.key, errors, f"{name} (key: {shown_key})")
            self._validate(value, shape.value, errors, f"{name}.{shown_key}")
        md = shape.metadata
        if "min" in md and len(param) < md["min"]:
            errors.report(name, "invalid length", param=len(param), shape=shape, min_allowed=md["min"])
        if "max" in md and len(param) > md["max"]:
            errors.report(name, "too many", param=param, shape=shape, max_allowed=md["max"])


def shown(name, param, shape):
    """The value as a message may show it: None for a sensitive member or a long/nested one."""
    if shape is not None and shape.metadata.get("sensitive"):
        return None
    if SECRET_NAME.search(name or ""):
        return None
    if isinstance(param, (bytes, bytearray)):
        return f"<{len(param)} bytes>"
    if isinstance(param, (dict, list, tuple)):
        return f"<{type(param).__name__} of {len(param)}>"
    text = str(param)
    return text if len(text) <= 120 else text[:117] + "..."


def to_violations(errors):
    out = []
    for reason, name, extra in errors._errors:  # botocore's report keeps (reason, name, details)
        name = (name or "").lstrip(".")
        shape = extra.get("shape")
        param = extra.get("param")
        if reason == "missing required field":
            member = f"{name}.{extra['required_name']}" if name else extra["required_name"]
            out.append(Violation("missing", member, "required"))
        elif reason == "unknown field":
            member = f"{name}.{extra['unknown_param']}" if name else extra["unknown_param"]
            out.append(Violation("unknown", member, "not a member of the input shape"))
        elif reason == "invalid type":
            kinds = "/".join(t.split("'")[1] if "'" in t else t for t in extra.get("valid_types", []))
            out.append(Violation("type", name, f"Member must be of type {kinds}", shown(name, param, shape)))
        elif reason == "invalid length":
            rule = f"Member must have length greater than or equal to {extra['min_allowed']}"
            out.append(Violation("length", name, rule, f"<length {param}>"))
        elif reason in ("too long", "too many"):
            rule = f"Member must have length less than or equal to {extra['max_allowed']}"
            out.append(Violation("length", name, rule, shown(name, param, shape)))
        elif reason == "invalid range":
            rule = f"Member must have value greater than or equal to {extra['min_allowed']}"
            out.append(Violation("range", name, rule, shown(name, param, shape)))
        elif reason == "too large":
            rule = f"Member must have value less than or equal to {extra['max_allowed']}"
            out.append(Violation("range", name, rule, shown(name, param, shape)))
        elif reason == "not in enum":
            values = extra["enum"]
            listed = ", ".join(values[:12]) + (f", ... ({len(values)} values)" if len(values) > 12 else "")
            rule = f"Member must satisfy enum value set: [{listed}]"
            out.append(Violation("enum", name, rule, shown(name, param, shape)))
        elif reason == "pattern":
            rule = f"Member must satisfy regular expression pattern: {extra['pattern']}"
            out.append(Violation("pattern", name, rule, shown(name, param, shape)))
        else:
            out.append(Violation("shape", name, reason))
    return out


# ------------------------------------------------------------------------------------------------
# The wire back into parameters


def scalar(text, shape):
    """A query-protocol value as the model's type; unparsable text stays text (a type error)."""
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(text)
        if t in ("double", "float"):
            return float(text)
        if t == "boolean":
            return {"true": True, "false": False}.get(text, text)
        if t == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return text
    return text


class QueryReader:
    """The flat `Name.Sub.N` parameters of the query and ec2 protocols, read along the input shape.
    Every key read is marked consumed; what is left is a member the model does not have."""

    def __init__(self, flat, ec2):
        self.flat = flat
        self.ec2 = ec2
        self.consumed = set()

    def member_name(self, member_shape, default):
        s = member_shape.serialization
        if self.ec2:
            if "queryName" in s:
                return s["queryName"]
            if "name" in s:
                return s["name"][0].upper() + s["name"][1:]
            return default
        return s.get("name", default)

    def indices(self, prefix):
        pat = re.compile(re.escape(prefix) + r"\.(\d+)(?:\.|$)")
        return sorted({int(m.group(1)) for k in self.flat for m in [pat.match(k)] if m})

    def read(self, shape, key):
        t = shape.type_name
        if t == "structure":
            return self.structure(shape, key)
        if t == "list":
            return self.list(shape, key)
        if t == "map":
            return self.map(shape, key)
        if key in self.flat:
            self.consumed.add(key)
            return scalar(self.flat[key], shape)
        return MISSING

    def structure(self, shape, prefix):
        out = {}
        for name, member in shape.members.items():
            wire = self.member_name(member, name)
            value = self.read(member, f"{prefix}.{wire}" if prefix else wire)
            if value is not MISSING:
                out[name] = value
        if prefix and not out and not any(k.startswith(prefix + ".") for k in self.flat):
            return MISSING
        return out

    def list(self, shape, key):
        if self.ec2:
            lp = key
        else:
            if self.flat.get(key) == "":
                self.consumed.add(key)  # the query protocol's empty list
                return []
            if shape.serialization.get("flattened"):
                lp = key
                if shape.member.serialization.get("name"):
                    lp = ".".join(key.split(".")[:-1] + [shape.member.serialization["name"]])
            else:
                lp = f"{key}.{shape.member.serialization.get('name', 'member')}"
        found = self.indices(lp)
        if not found:
            return MISSING
        items = [self.read(shape.member, f"{lp}.{i}") for i in found]
        return [i for i in items if i is not MISSING]

    def map(self, shape, key):
        base = key if shape.serialization.get("flattened") else f"{key}.entry"
        kname = self.member_name(shape.key, "key") if not self.ec2 else shape.key.serialization.get("name", "key")
        vname = self.member_name(shape.value, "value") if not self.ec2 else shape.value.serialization.get("name", "value")
        found = self.indices(base)
        if not found:
            return MISSING
        out = {}
        for i in found:
            k = self.read(shape.key, f"{base}.{i}.{kname}")
            v = self.read(shape.value, f"{base}.{i}.{vname}")
            if k is not MISSING:
                out[k] = None if v is MISSING else v
        return out


def json_names(value, shape):
    """A JSON body with the wire names (locationName, where one is set) turned into member names."""
    if shape is None:
        return value
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        wire_to_member = {m.serialization.get("name", n): n for n, m in shape.members.items()}
        out = {}
        for k, v in value.items():
            name = wire_to_member.get(k, k)
            out[name] = json_names(v, shape.members.get(name))
        return out
    if t == "list" and isinstance(value, list):
        return [json_names(v, shape.member) for v in value]
    if t == "map" and isinstance(value, dict):
        return {k: json_names(v, shape.value) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------------------------------
# The checker


class Checker:
    def __init__(self):
        self._lock = threading.Lock()
        self._loader = botocore.loaders.Loader()
        self._models = {}
        self._routes = {}
        self._patterns = {}
        self.patterns_skipped = set()  # patterns no engine here could compile
        self.checked = 0
        self.refused = 0

    def model(self, service):
        name = BOTOCORE_NAME.get(service)
        if name is None:
            return None
        with self._lock:
            if name not in self._models:
                data = self._loader.load_service_model(name, "service-2")
                self._models[name] = botocore.model.ServiceModel(data, service_name=name)
            return self._models[name]

    def compile_pattern(self, pattern):
        with self._lock:
            if pattern not in self._patterns:
                try:
                    self._patterns[pattern] = java_re.compile(pattern)
                except Exception:  # noqa: BLE001 - any engine error means: cannot check it here
                    self._patterns[pattern] = None
                    self.patterns_skipped.add(pattern)
            return self._patterns[pattern]

    def routes(self, service, model):
        """rest-json: [(method, path regex, literal length, operation)], most specific first."""
        with self._lock:
            if service in self._routes:
                return self._routes[service]
        out = []
        for op in model.operation_names:
            http = model.operation_model(op).http
            path, _, fixed_query = http.get("requestUri", "/").partition("?")
            literal, parts = 0, []
            for piece in re.split(r"(\{[^}]+\})", path.rstrip("/") or "/"):
                if piece.startswith("{"):
                    label = piece[1:-1]
                    greedy = label.endswith("+")
                    label = label.rstrip("+")
                    parts.append(f"(?P<{re.sub(r'[^A-Za-z0-9_]', '_', label)}>{'.+' if greedy else '[^/]+'})")
                else:
                    literal += len(piece)
                    parts.append(re.escape(piece))
            fixed = [q.split("=", 1)[0] for q in fixed_query.split("&") if q]
            out.append((http.get("method", "POST"), re.compile("".join(parts) + "/?"), literal + len(fixed), op, fixed))
        out.sort(key=lambda r: -r[2])
        with self._lock:
            self._routes[service] = out
        return out

    def check(self, service, method, raw_path, headers, body):
        """(operation, [Violation]) for one request; operation None when it is no call of a
        modelled service. `headers` has lower-case names."""
        op, shape, params, found = self.read(service, method, raw_path, headers, body)
        if op is None or shape is False:
            return op, found
        return op, self._validate(params, shape) + found

    def read(self, service, method, raw_path, headers, body):
        """(operation, input shape, parameters, [Violation]) as the wire gives them: the
        parameters in the model's member names, the violations those of the wire form itself
        (a key no member is sent under, a body that is not JSON). The shape is False when the
        model has no such operation."""
        model = self.model(service)
        if model is None:
            return None, None, {}, []
        path, _, query = raw_path.partition("?")
        target = headers.get("x-amz-target", "")
        if model.protocol == "rest-json" and not target:
            return self._read_rest_json(service, model, method, path, query, headers, body)
        if target and "." in target:
            op = target.split(".", 1)[1]
            if op not in model.operation_names:
                return op, False, {}, [Violation("unknown", op, "no such operation in the model")]
            shape = model.operation_model(op).input_shape
            try:
                params = json.loads(body) if body else {}
            except ValueError:
                return op, False, {}, [Violation("type", "input", "the body is not JSON")]
            return op, shape, json_names(params, shape), []
        form = {}
        if body:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items():
            form.setdefault(k, v)
        flat = {k: v[0] for k, v in form.items()}
        op = flat.get("Action")
        if not op:
            return None, None, {}, []
        if op not in model.operation_names:
            return op, False, {}, [Violation("unknown", op, "no such operation in the model")]
        shape = model.operation_model(op).input_shape
        if shape is None:
            params, leftover = {}, set(flat) - {"Action", "Version"}
        else:
            reader = QueryReader(flat, ec2=model.protocol == "ec2")
            params = reader.structure(shape, "")
            leftover = set(flat) - reader.consumed - {"Action", "Version"}
        found = [Violation("unknown", k, "no member of the input shape is sent under this name") for k in sorted(leftover)]
        return op, shape, params, found

    def _read_rest_json(self, service, model, method, path, query, headers, body):
        qs = urllib.parse.parse_qs(query, keep_blank_values=True)
        for verb, rx, _, op, fixed in self.routes(service, model):
            m = rx.fullmatch(path) if verb == method else None
            if m and all(f in qs for f in fixed):
                break
        else:
            return None, None, {}, []
        shape = model.operation_model(op).input_shape
        if shape is None:
            return op, None, {}, []
        params, found = {}, []
        labels = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        used_query = set(fixed)
        payload = shape.serialization.get("payload")
        body_members = {}
        for name, member in shape.members.items():
            where, wire = member.serialization.get("location"), member.serialization.get("name", name)
            if where == "uri":
                key = re.sub(r"[^A-Za-z0-9_]", "_", wire)
                if key in labels:
                    params[name] = scalar(labels[key], member)
            elif where == "querystring":
                if member.type_name == "map":
                    rest = {k: v[0] for k, v in qs.items() if k not in used_query}
                    if rest:
                        params[name] = rest
                        used_query |= set(rest)
                elif wire in qs:
                    used_query.add(wire)
                    if member.type_name == "list":
                        params[name] = [scalar(v, member.member) for v in qs[wire]]
                    else:
                        params[name] = scalar(qs[wire][0], member)
            elif where == "header":
                if wire.lower() in headers:
                    params[name] = scalar(headers[wire.lower()], member)
            elif where == "headers":
                pass  # prefixed header maps: not used by the calls checked here
            elif name != payload:
                body_members[name] = member
        if payload:
            member = shape.members[payload]
            if body:
                if member.type_name == "structure":
                    try:
                        params[payload] = json_names(json.loads(body), member)
                    except ValueError:
                        found.append(Violation("type", payload, "the body is not JSON"))
                else:
                    params[payload] = body
        elif body:
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
                found.append(Violation("type", "input", "the body is not JSON"))
            if isinstance(doc, dict):
                wire_to_member = {m.serialization.get("name", n): n for n, m in body_members.items()}
                for k, v in doc.items():
                    name = wire_to_member.get(k, k)
                    params[name] = json_names(v, shape.members.get(name))
        found += [Violation("unknown", f"?{k}", "no query-string member of this name") for k in sorted(set(qs) - used_query)]
        return op, shape, params, found

    def _validate(self, params, shape):
        if shape is None:
            return [] if not params else [Violation("unknown", k, "the operation takes no input") for k in params]
        errors = Validator(self.compile_pattern).validate(params, shape)
        return to_violations(errors)


def allowed(service, operation, violation):
    """Why this finding is let through (see ALLOWED), or None."""
    for (svc, op, member, kind), why in ALLOWED.items():
        if svc == service and op == operation and kind == violation.kind and re.fullmatch(member, violation.member):
            return why
    return None
