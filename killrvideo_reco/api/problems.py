"""RFC 9457 problem details for every error the API returns."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from killrvideo_reco.domain.errors import StoreUnavailable
from killrvideo_reco.logs import request_id

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
FASTAPI_BODY_ERROR = "There was an error parsing the body"  # e.g. a body that is not UTF-8
STATUS_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                 405: "Method Not Allowed", 409: "Conflict", 415: "Unsupported Media Type",
                 422: "Unprocessable Content", 500: "Internal Server Error",
                 503: "Service Unavailable"}


class Problem(Exception):
    """Raise from routes and dependencies to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra):
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers or {}, extra
        self.title = title or STATUS_TITLES.get(status, "Error")


def problem_json(status: int, title: str, detail: str, instance: str,
                 headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    """The one problem document builder; the load shedder calls it without a Request."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            "instance": instance, "requestId": request_id.get(), **extra}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_response(request: Request, status: int, title: str, detail: str,
                     headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    return problem_json(status, title, detail, request.url.path, headers, **extra)


def _field_errors(error: RequestValidationError) -> list[dict]:
    out = []
    for item in error.errors():
        if item.get("type") == "json_invalid":
            reason = (item.get("ctx") or {}).get("error", "malformed")
            out.append({"field": "body", "message": f"the body is not valid JSON ({reason})"})
            continue
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        out.append({"field": ".".join(location), "message": item.get("msg", "invalid")})
    return out


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (HEAD and OPTIONS are not served)."""
    routes = request.app.router.routes
    return [method for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in routes)]


def install_problem_handlers(app: FastAPI, retry_after_s: int = 2) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem):
        return problem_response(request, exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 400 and detail == FASTAPI_BODY_ERROR:
            detail = "The body could not be parsed: send UTF-8 encoded JSON."
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; list them all.
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not supported here; use {' or '.join(allowed)}."
        return problem_response(request, exc.status_code,
                                STATUS_TITLES.get(exc.status_code, "Error"), detail, headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        errors = _field_errors(exc)
        summary = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors)
        return problem_response(request, 422, "Invalid request", summary, errors=errors)

    async def on_database_error(request: Request, exc: Exception):
        log.warning("database unavailable for %s: %s: %s", request.url.path,
                    type(exc).__name__, exc)
        return problem_response(
            request, 503, "Service Unavailable",
            "The database did not answer in time; retry shortly.",
            {"Retry-After": str(retry_after_s)})

    # A store that is busy or away, or a deadline of our own that ran out.
    for error_class in (StoreUnavailable, TimeoutError, ConnectionError):
        app.add_exception_handler(error_class, on_database_error)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        rid = request_id.get()
        return problem_response(request, 500, "Internal Server Error",
                                "An unexpected error occurred; it has been logged with "
                                f"request id {rid}.", {"X-Request-ID": rid or ""})
