"""Check hostdevd's replies against its contract, api/openapi.json.

api/openapi.json is the source of truth for API v1: paths, statuses, headers
and JSON shapes.  This module loads it, checks that it is a coherent OpenAPI
3.1 document, and validates real HTTP replies against it, so that the
integration tests fail when the daemon and the contract drift apart.

    spec = load_spec("api/openapi.json")
    spec.check_document()                 # raises ValueError when incoherent
    spec.validate_response("GET", "/v1/devices/0000:01:00.0", 200, headers, body)
                                          # raises AssertionError on a mismatch

Paths that match no template are checked against the document's
`x-unmatched-paths` responses (404 not-found), methods a path has no operation
for against `x-unsupported-methods` (405 with Allow).  HEAD is checked as GET
with an empty body.

As a script it lints the document (exit status 0 or 1):

    /usr/bin/python3 tests/integration/openapi_check.py api/openapi.json

Needs only the standard library and jsonschema >= 4.10 (Debian's
python3-jsonschema); it uses `referencing` when a newer jsonschema has it.
"""

import json
import re
import sys
import urllib.parse

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError:  # Debian 12's 4.10: RefResolver
    Registry = None

__all__ = ["Spec", "load_spec"]

BASE_URI = "https://hostdevd.invalid/api/openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_C_MAX_DEPTH = 32  # the daemon parses the document with json-c's default depth


def _no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise ValueError(f"duplicate keys in one object: {', '.join(dups)}")
    return dict(pairs)


def load_spec(path):
    """Reads an OpenAPI document (JSON) into a Spec; rejects duplicate keys."""
    with open(path, encoding="utf-8") as f:
        return Spec(json.load(f, object_pairs_hook=_no_duplicate_keys))


def _explain(error):
    """For anyOf/oneOf failures, the branch error that says most: one from a
    branch that did not reject the instance for its type as a whole
    ("Additional properties are not allowed" rather than "is not valid under
    any of the given schemas")."""
    while error.context:
        specific = [e for e in error.context if e.validator != "type" or e.relative_path]
        if not specific:
            break
        error = best_match(specific)
    return error


def _depth(node):
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


class Spec:
    def __init__(self, document):
        self.document = document
        self._paths = []  # (regex, template, path item), literal templates first
        for template, item in document.get("paths", {}).items():
            parts = [re.escape(s) if not re.fullmatch(r"\{[^{}/]+\}", s) else "[^/]+"
                     for s in template.split("/")]
            self._paths.append((re.compile("/".join(parts) + r"\Z"), template, item))
        self._paths.sort(key=lambda p: p[1].count("{"))

    # -- references ----------------------------------------------------------

    def resolve(self, node):
        """Follows "$ref" (local JSON pointers only) until a node has none."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise ValueError(f"$ref cycle at {ref}")
            seen.add(ref)
            node = self._pointer(ref)
        return node

    def _pointer(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValueError(f"$ref {ref!r} is not a local reference")
        node = self.document
        for token in filter(None, urllib.parse.unquote(ref[1:]).split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(f"$ref {ref} does not resolve (at {token!r})") from None
        return node

    def _validator(self, schema):
        """A validator for a schema taken out of the document: its local
        "#/..." references are made absolute against the document's URI."""
        def absolute(node):
            if isinstance(node, dict):
                return {k: BASE_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#")
                        else absolute(v) for k, v in node.items()}
            return [absolute(v) for v in node] if isinstance(node, list) else node
        schema = absolute(schema)
        if Registry is not None:
            registry = Registry().with_resource(
                BASE_URI, Resource(contents=self.document, specification=DRAFT202012))
            return Draft202012Validator(schema, registry=registry)
        return Draft202012Validator(schema, resolver=jsonschema.RefResolver(BASE_URI, self.document))

    # -- the document itself ---------------------------------------------------

    def operations(self):
        """Yields (method, template, operation) for every operation."""
        for _, template, item in self._paths:
            for method in METHODS:
                if method in item:
                    yield method.upper(), template, item[method]

    def _schemas(self):
        """Yields (where, schema) for every schema the document holds."""
        doc, comp = self.document, self.document.get("components", {})

        def of_params(where, params):
            for i, p in enumerate(params or []):
                p = self.resolve(p)
                if "schema" in p:
                    yield f"{where}/parameters/{i}", p["schema"]

        def of_response(where, resp):
            resp = self.resolve(resp)
            for name, h in (resp.get("headers") or {}).items():
                h = self.resolve(h)
                if "schema" in h:
                    yield f"{where}/headers/{name}", h["schema"]
            for mt, media in (resp.get("content") or {}).items():
                if "schema" in media:
                    yield f"{where}/content/{mt}", media["schema"]

        for name, schema in comp.get("schemas", {}).items():
            yield f"components/schemas/{name}", schema
        yield from of_params("components", comp.get("parameters", {}).values())
        for name, h in comp.get("headers", {}).items():
            yield f"components/headers/{name}", h.get("schema", {})
        for name, resp in comp.get("responses", {}).items():
            yield from of_response(f"components/responses/{name}", resp)
        for ext in ("x-unmatched-paths", "x-unsupported-methods"):
            for status, resp in doc.get(ext, {}).get("responses", {}).items():
                yield from of_response(f"{ext}/{status}", resp)
        for method, template, op in self.operations():
            where = f"{method} {template}"
            yield from of_params(where, op.get("parameters"))
            yield from of_response(f"{where} requestBody", op.get("requestBody", {}))
            for status, resp in op.get("responses", {}).items():
                yield from of_response(f"{where} {status}", resp)

    def check_document(self):
        """Raises ValueError unless the document is a coherent OpenAPI 3.1 one."""
        doc = self.document
        if not re.fullmatch(r"3\.1\.\d+", str(doc.get("openapi"))):
            raise ValueError(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
        for key in ("title", "version"):
            if not isinstance(doc.get("info", {}).get(key), str):
                raise ValueError(f"info.{key} is missing")
        if not isinstance(doc.get("paths"), dict) or not doc["paths"]:
            raise ValueError("no paths")
        if _depth(doc) > JSON_C_MAX_DEPTH:
            raise ValueError(f"nested deeper than {JSON_C_MAX_DEPTH}: json-c in the daemon would reject it")

        def refs(node):
            if isinstance(node, dict):
                if isinstance(node.get("$ref"), str):
                    yield node["$ref"]
                for v in node.values():
                    yield from refs(v)
            elif isinstance(node, list):
                for v in node:
                    yield from refs(v)
        for ref in refs(doc):
            self._pointer(ref)

        for where, schema in self._schemas():
            try:
                Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as e:
                raise ValueError(f"{where}: invalid schema: {e.message}") from None

        for ext in ("x-unmatched-paths", "x-unsupported-methods"):
            if not doc.get(ext, {}).get("responses"):
                raise ValueError(f"{ext} documents no responses")
        if "404" not in doc["x-unmatched-paths"]["responses"]:
            raise ValueError("x-unmatched-paths does not document the 404")

        ids = set()
        for _, template, item in self._paths:
            if not template.startswith("/"):
                raise ValueError(f"path {template!r} does not start with /")
            used = set(re.findall(r"\{([^{}/]+)\}", template))
            for method in (m for m in METHODS if m in item):
                op, where = item[method], f"{method.upper()} {template}"
                if not op.get("operationId"):
                    raise ValueError(f"{where}: no operationId")
                if op["operationId"] in ids:
                    raise ValueError(f"{where}: operationId {op['operationId']} used twice")
                ids.add(op["operationId"])
                if not op.get("responses"):
                    raise ValueError(f"{where}: no responses")
                params = [self.resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
                declared = {p["name"] for p in params if p.get("in") == "path"}
                if used - declared:
                    raise ValueError(f"{where}: path parameter(s) {sorted(used - declared)} not declared")
                if declared - used:
                    raise ValueError(f"{where}: path parameter(s) {sorted(declared - used)} not in the path")
                for p in params:
                    if p.get("in") == "path" and p.get("required") is not True:
                        raise ValueError(f"{where}: path parameter {p['name']} must be required")

    # -- replies ---------------------------------------------------------------

    def match(self, method, actual_path):
        """The (template, operation) a request goes to; HEAD uses GET.

        (template, None) when the path exists but has no operation for the
        method; (None, None) when it matches no template.  Like the agent,
        matches the percent-decoded path: "%2f" separates segments."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(actual_path).path)
        m = "get" if method.upper() == "HEAD" else method.lower()
        for regex, template, item in self._paths:
            if regex.match(path):
                return template, item.get(m)
        return None, None

    def validate_event(self, type_, data):
        """Raises AssertionError when an event of GET /v1/events is not one the
        contract's x-events names, or its data breaks that event's schema."""
        events = self.document["paths"]["/v1/events"]["get"].get("x-events") or {}
        if type_ not in events:
            raise AssertionError(f"event {type_!r} is not in x-events ({', '.join(sorted(events))})")
        errors = sorted((_explain(e) for e in self._validator(events[type_]).iter_errors(data)),
                        key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
            raise AssertionError(f"event {type_}: the data does not match x-events:\n" + "\n".join(lines))

    def validate_response(self, method, actual_path, status, headers, body):
        """Raises AssertionError when the reply breaks the contract."""
        template, op = self.match(method, actual_path)
        shown = actual_path if len(actual_path) <= 120 else actual_path[:117] + "..."
        what = f"{method} {shown} -> {status}"
        if op is not None:
            responses, where = op["responses"], f"{method.upper()} {template}"
        elif template is not None:
            responses, where = self.document["x-unsupported-methods"]["responses"], "x-unsupported-methods"
        else:
            responses, where = self.document["x-unmatched-paths"]["responses"], "x-unmatched-paths"

        key = next((k for k in (str(status), f"{int(status) // 100}XX", "default") if k in responses), None)
        if key is None:
            raise AssertionError(f"{what}: status {status} is not documented for {where} "
                                 f"(documented: {', '.join(sorted(responses))})")
        resp = self.resolve(responses[key])
        hdrs = {k.lower(): v for k, v in headers.items()}
        body = body or b""

        for name, h in (resp.get("headers") or {}).items():
            h, value = self.resolve(h), hdrs.get(name.lower())
            if value is None:
                if h.get("required"):
                    raise AssertionError(f"{what}: required header {name} is missing")
                continue
            errors = list(self._validator(h.get("schema", {})).iter_errors(value))
            if errors:
                raise AssertionError(f"{what}: header {name}: {value!r}: {errors[0].message}")

        content = resp.get("content") or {}
        if method.upper() == "HEAD" or not content:
            if body:
                raise AssertionError(f"{what}: the reply must have no body, it has {len(body)} bytes")
            if not content:
                return
        ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in content:
            raise AssertionError(f"{what}: Content-Type {hdrs.get('content-type')!r} is not one of "
                                 f"{', '.join(content)}")
        schema = content[ctype].get("schema")
        if method.upper() == "HEAD" or schema is None:
            return
        try:
            instance = json.loads(decode_content(hdrs.get("content-encoding"), body))
        except ValueError as e:
            raise AssertionError(f"{what}: the body is not JSON ({e}): {body[:200]!r}") from None
        errors = sorted((_explain(e) for e in self._validator(schema).iter_errors(instance)),
                        key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            lines = [f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
            more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            raise AssertionError(f"{what}: the body does not match {where} {key}:\n" + "\n".join(lines) + more)


def decode_content(coding, body):
    """The identity bytes of a body sent with Content-Encoding coding
    (gzip, or zstd through Debian's zstd tool); ValueError if it is not."""
    if not coding:
        return body
    if coding == "gzip":
        import gzip
        try:
            return gzip.decompress(body)
        except (OSError, EOFError) as e:
            raise ValueError(f"not gzip: {e}") from None
    if coding == "zstd":
        import subprocess
        done = subprocess.run(["zstd", "-d", "-q", "-c"], input=body, capture_output=True)
        if done.returncode != 0:
            raise ValueError(f"not zstd: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout
    raise ValueError(f"unknown Content-Encoding {coding!r}")


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OPENAPI.json", file=sys.stderr)
        return 2
    try:
        spec = load_spec(argv[1])
        spec.check_document()
    except (OSError, ValueError) as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    print(f"{argv[1]}: OpenAPI {spec.document['openapi']}, {len(list(spec.operations()))} operations: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
