"""FastAPI dependencies, all in one place: resources, auth, deadlines."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request

from killrvideo_reco.api.problems import Problem
from killrvideo_reco.api.resources import AppResources
from killrvideo_reco.auth import AuthError, Principal
from killrvideo_reco.service.job_registry import JobRegistry
from killrvideo_reco.settings import Settings

T = TypeVar("T")
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="killrvideo"'}


async def settings(request: Request) -> Settings:
    return request.app.state.holder.settings


async def resources(request: Request) -> AppResources:
    found = request.app.state.holder.resources
    if found is None:
        raise Problem(503, "The service is still connecting to Cassandra; retry shortly.",
                      headers={"Retry-After": "2"})
    return found


async def jobs(request: Request) -> JobRegistry:
    await resources(request)  # the registry exists once Cassandra answered
    return request.app.state.holder.jobs


async def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Problem(401, "Missing bearer token: send 'Authorization: Bearer <jwt>'.",
                      headers=BEARER_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "The Authorization header must be 'Bearer <jwt>'.",
                      headers=BEARER_CHALLENGE)
    try:
        # On the event loop: a token not seen before costs ~0.1 ms (HS256).
        return request.app.state.holder.verifier(token.strip())
    except AuthError as error:
        raise Problem(401, str(error), headers={
            "WWW-Authenticate": f'Bearer realm="killrvideo", error="invalid_token", '
                                f'error_description="{error}"'}) from error


async def optional_principal(request: Request) -> Principal | None:
    """No Authorization header: anonymous (None); one that is there must be valid."""
    if not request.headers.get("authorization"):
        return None
    return await principal(request)


def require(role: str):
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.has(role):
            raise Problem(403, f"This operation needs the '{role}' role; the token has "
                               f"{sorted(who.roles) or 'no known roles'}.")
        return who
    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
MaybeViewer = Annotated[Principal | None, Depends(optional_principal)]
Creator = Annotated[Principal, Depends(require("creator"))]
Moderator = Annotated[Principal, Depends(require("moderator"))]
Resources = Annotated[AppResources, Depends(resources)]
Jobs = Annotated[JobRegistry, Depends(jobs)]
CurrentSettings = Annotated[Settings, Depends(settings)]
# The paging parameters every paged endpoint takes: the only check of them (a 422 whose
# errors name query.page / query.pageSize).
PageNumber = Annotated[int, Query(ge=1, le=1000, description="1-based page number")]
PageSize = Annotated[int, Query(alias="pageSize", ge=1, le=100,
                                description="Items per page (max 100)")]


async def within_deadline(work: Awaitable[T], settings: Settings) -> T:
    """Bound a whole request by the configured budget: 503, never a hang."""
    budget = settings.request_deadline_s
    try:
        # In the request's own task: wait_for would start one more task per request.
        async with asyncio.timeout(budget):
            return await work
    except TimeoutError as error:
        raise Problem(503, f"The database did not answer within {budget:g}s; retry shortly.",
                      headers={"Retry-After": "2"}) from error
