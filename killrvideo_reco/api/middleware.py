"""One ASGI middleware per request: the request id (X-Request-ID in, out, and in every
log line and problem document), the request metrics and the access log line."""
from __future__ import annotations

import logging
import re
import time
import uuid

from killrvideo_reco import metrics
from killrvideo_reco.logs import request_id

log = logging.getLogger("killrvideo_reco.access")
# Ids from clients are echoed in headers and logs: accept only short, plain tokens.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _route_template(scope) -> str:
    # FastAPI puts the matched route in the scope; unmatched paths share one label so
    # that scanners cannot blow up the metric's cardinality.
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


class RequestContext:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = offered if ACCEPTED_ID.fullmatch(offered) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The 500 problem is written outside this middleware: keep the id set for it.
            token = None
            raise
        finally:
            elapsed = time.perf_counter() - started
            labels = (scope["method"], _route_template(scope), str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_LATENCY.labels(*labels).observe(elapsed)
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed * 1000,
                     extra={"method": scope["method"], "path": scope["path"], "status": status,
                            "durationMs": round(elapsed * 1000, 1)})
            if token is not None:
                request_id.reset(token)
