"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from backoffice.api import ApiRoute
from backoffice.api.http import MAX_ID
from backoffice.problems import PROBLEM_JSON, Problem

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{(\w+)}")

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request body",
    401: "Not signed in",
    403: "The role does not allow this",
    404: "Not found",
    409: "Conflict (e.g. a refused transition; `allowed` names the possible ones)",
    410: "Gone: the file was deleted (retention period or erasure)",
    412: "Stale ETag in If-Match",
    413: "Request body too large",
    422: "Invalid fields (`errors` names each)",
    428: "If-Match is required",
    429: "Too many failed sign-ins",
    502: "Telegram did not answer",
}


def build_openapi(routes: list[ApiRoute], *, title: str, version: str) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        if route.query is not None:
            wanted.append((route.query, "validation"))
        if route.response is not None:
            wanted.append((route.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def ref_name(model: type[BaseModel], mode: str) -> str:
        return refs[(model, mode)]["$ref"].rsplit("/", 1)[-1]

    problem_ref = {"$ref": REF.format(model=ref_name(Problem, "serialization"))}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "tags": list(route.tags),
            "parameters": [],
            "responses": {},
        }
        path_params = _PATH_PARAM.findall(route.path)
        for name in path_params:
            op["parameters"].append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
            )
        if route.query is not None:
            definition = schemas[ref_name(route.query, "validation")]
            required = set(definition.get("required", ()))
            for name, prop in definition.get("properties", {}).items():
                param: dict[str, Any] = {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
                }
                if "description" in prop:
                    param["description"] = prop["description"]
                if prop.get("type") == "array" or any(s.get("type") == "array" for s in prop.get("anyOf", ())):
                    param["style"] = "form"
                    param["explode"] = True
                op["parameters"].append(param)
        for header in route.headers:
            op["parameters"].append(
                {"name": header, "in": "header", "required": False, "schema": {"type": "string", "maxLength": 64}}
            )
        if route.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=ref_name(route.body, "validation"))}}
                },
            }
        success: dict[str, Any] = {"description": _DESCRIPTIONS.get(route.status, "OK")}
        if route.content_type is not None:
            types = (route.content_type,) if isinstance(route.content_type, str) else route.content_type
            content: dict[str, Any] = {}
            for media in types:
                if media == "application/json" and route.response is not None:
                    ref = REF.format(model=ref_name(route.response, "serialization"))
                    content[media] = {"schema": {"$ref": ref}}
                elif media.startswith("text/") or media.endswith(("+xml", "/json")):
                    content[media] = {"schema": {"type": "string"}}
                else:
                    content[media] = {"schema": {"type": "string", "format": "binary"}}
            success["content"] = content
        elif route.response is not None:
            success["content"] = {
                "application/json": {"schema": {"$ref": REF.format(model=ref_name(route.response, "serialization"))}}
            }
        op["responses"][str(route.status)] = success
        problems = set(route.errors)
        if route.role is not None:
            problems |= {401, 403}
        if route.body is not None:
            problems |= {400, 413, 422}
        if route.query is not None:
            problems.add(422)
        if path_params:
            problems.add(404)
        for status in sorted(problems):
            op["responses"][str(status)] = {
                "description": _DESCRIPTIONS.get(status, "Error"),
                "content": {PROBLEM_JSON: {"schema": problem_ref}},
            }
        op["responses"]["default"] = {
            "description": "Any other error, as problem details",
            "content": {PROBLEM_JSON: {"schema": problem_ref}},
        }
        if route.role is not None:
            op["security"] = [{"sessionCookie": []}, {"bearerToken": []}]
            op["description"] = f"Needs the role **{route.role.value}** or higher."
        else:
            op["security"] = []
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "claimdesk_session"},
                "bearerToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }
