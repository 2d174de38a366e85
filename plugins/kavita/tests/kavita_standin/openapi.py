"""Kavita's OpenAPI description (``../shared/reference/kavita/openapi.json``, OpenAPI 3.0.1) as a checker.

Every request the stand-in receives goes through :meth:`OpenApi.check_request`: the route and
method must be documented (case-insensitively, as ASP.NET routes), required query parameters
present and of their type, and a JSON body valid against the operation's schema, whose
``additionalProperties: false`` forbids unknown properties. OpenAPI 3.0's ``nullable`` becomes
a ``null`` type for JSON Schema; ``$ref`` resolves over the whole document.
:meth:`OpenApi.check_response` validates the stand-in's own answers against a named schema.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:kavita:openapi"
INT32 = (-(2**31), 2**31 - 1)


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    return node


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()
    checker.checks("int32")(lambda value: not isinstance(value, int) or INT32[0] <= value <= INT32[1])
    checker.checks("int64")(lambda value: not isinstance(value, int) or -(2**63) <= value < 2**63)
    checker.checks("date-time")(
        lambda value: (
            not isinstance(value, str)
            or bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", value))
        )
    )
    return checker


class OpenApi:
    def __init__(self, path: Path):
        self.document = json.loads(path.read_text(encoding="utf-8"))
        self.schemas = self.document["components"]["schemas"]
        converted = _nullable(copy.deepcopy(self.document))
        self.registry = Registry().with_resource(DOCUMENT_URI, Resource(contents=converted, specification=DRAFT202012))
        self.checker = _format_checker()
        self.routes = [
            (
                re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$", re.IGNORECASE),
                template,
                operations,
            )
            # literal routes first: /api/Series/volumes is not /api/Series/{seriesId}
            for template, operations in sorted(self.document["paths"].items(), key=lambda item: item[0].count("{"))
        ]

    def _validate(self, instance: Any, schema: dict[str, Any]) -> list[str]:
        schema = _nullable(copy.deepcopy(schema))
        schema = json.loads(json.dumps(schema).replace('"#/components/', f'"{DOCUMENT_URI}#/components/'))
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry, format_checker=self.checker)
        return [
            f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(instance)
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for pattern, template, operations in self.routes:
            if pattern.match(path) and method.lower() in operations:
                return template, operations[method.lower()]
        return None

    def check_request(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, has_body: bool
    ) -> list[str]:
        """What in this request Kavita's description does not allow (empty: a valid request)."""
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path}: not in Kavita's OpenAPI description"]
        template, operation = found
        problems = []
        documented = set()
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "query":
                continue
            name = parameter["name"]
            documented.add(name.lower())
            values = [value for key, value in query.items() if key.lower() == name.lower()]
            if not values:
                if parameter.get("required"):
                    problems.append(f"{method} {template}: required query parameter {name} missing")
                continue
            kind = parameter.get("schema", {}).get("type")
            value = values[0][0]
            if kind == "integer" and not (re.fullmatch(r"-?\d+", value) and INT32[0] <= int(value) <= INT32[1]):
                problems.append(f"{method} {template}: query parameter {name}={value!r} is not an int32")
            if kind == "boolean" and value.lower() not in ("true", "false"):
                problems.append(f"{method} {template}: query parameter {name}={value!r} is not a boolean")
        for name in query:
            if name.lower() not in documented:
                problems.append(f"{method} {template}: undocumented query parameter {name}")
        request_body = operation.get("requestBody")
        if request_body is None:
            if has_body:
                problems.append(f"{method} {template}: takes no body")
        elif not has_body:
            problems.append(f"{method} {template}: a JSON body is required")
        else:
            schema = request_body["content"]["application/json"]["schema"]
            problems += [f"{method} {template}: {problem}" for problem in self._validate(body, schema)]
        return problems

    def check_response(self, instance: Any, name: str, *, array: bool = False) -> list[str]:
        assert name in self.schemas, name
        reference = {"$ref": f"#/components/schemas/{name}"}
        return self._validate(instance, {"type": "array", "items": reference} if array else reference)
