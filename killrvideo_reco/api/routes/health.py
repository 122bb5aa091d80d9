from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from killrvideo_reco.api.deps import CurrentSettings, Resources
from killrvideo_reco.api.openapi import problems
from killrvideo_reco.api.problems import Problem

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Cassandra answers and the schema is at the expected version",
            responses=problems(503))
async def readyz(resources: Resources, settings: CurrentSettings) -> dict:
    expected = resources.expected_schema
    try:
        current = await asyncio.wait_for(resources.metadata.schema_version(),
                                         timeout=settings.request_deadline_s)
    except Exception as error:  # noqa: BLE001 - any failure means "not ready"
        raise Problem(503, f"Cassandra does not answer: {type(error).__name__}",
                      headers={"Retry-After": "2"}) from error
    if current != expected:
        raise Problem(503, f"schema version is {current}, expected {expected}: run 'make schema'",
                      headers={"Retry-After": "10"})
    return {"status": "ready", "schemaVersion": current}


@router.get("/metrics", summary="Prometheus metrics (text exposition format)",
            response_class=Response, responses={200: {
                "description": "Every metric listed in docs/operations.md.",
                "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def prometheus_metrics() -> Response:
    # Unauthenticated like /healthz: bind the port privately or filter it at the proxy.
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
