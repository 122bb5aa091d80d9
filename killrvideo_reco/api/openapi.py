"""What the OpenAPI document says beyond what FastAPI infers: every error a route can
answer, as application/problem+json, and the vector length this deployment requires."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from killrvideo_reco.api.problems import PROBLEM_JSON
from killrvideo_reco.api.schemas import ProblemOut
from killrvideo_reco.settings import Settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WHY = {
    400: "The body could not be read: it is not UTF-8 encoded JSON.",
    401: "No, malformed, expired or badly signed bearer token (WWW-Authenticate says which).",
    403: "The token lacks the role this operation needs.",
    404: "No such resource.",
    409: "Conflicting concurrent work; Retry-After says when to try again.",
    422: "The request is invalid; `errors` lists each field and what to fix.",
    503: "Cassandra is unavailable or too slow; Retry-After says when to try again.",
}
AUTHENTICATED = (401, 403, 503)


def problems(*statuses: int) -> dict[int | str, dict]:
    """The `responses=` of a route: each status answered as a problem document."""
    return {status: {"description": WHY[status],
                     "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
            for status in sorted(set(statuses))}


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def build() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in ProblemOut.model_json_schema(
                ref_template="#/components/schemas/{model}").pop("$defs", {}).items():
            schemas.setdefault(name, schema)
        schemas["Problem"] = {k: v for k, v in ProblemOut.model_json_schema(
            ref_template="#/components/schemas/{model}").items() if k != "$defs"}
        _constrain_vector(schemas.get("NewVideoIn", {}), settings.vector_dimension)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]  # FastAPI's documented override


def _constrain_vector(schema: dict, dimension: int) -> None:
    """contentFeatures must have exactly VECTOR_DIMENSION finite numbers, not all zero
    (cosine is undefined for the zero vector). The length depends on this deployment's
    settings, so it is added here rather than in the model."""
    prop = schema.get("properties", {}).get("contentFeatures", {})
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == "array":
            branch.update(minItems=dimension, maxItems=dimension,
                          contains={"type": "number", "not": {"const": 0}})
