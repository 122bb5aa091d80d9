"""/console: HTML pages rendered from templates/, the script and stylesheet in static/.
The pages carry no data and no token: the script fetches everything from the JSON API with
the bearer token the operator gave, kept in the tab's sessionStorage, so every call passes
the API's own auth. In DEV_MODE, /console/dev/token mints the demo accounts' tokens."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from killrvideo_reco.jobs.demo import DEMO_ACCOUNTS, demo_token, viewer_id
from killrvideo_reco.settings import Settings

HERE = Path(__file__).parent
PAGES = {"viewer": "Viewer", "video": "Video", "runs": "Training runs", "jobs": "Jobs",
         "experiments": "Experiments", "health": "Health"}
# Short-lived: a demo token only lives as long as a console session needs it.
DEV_TOKEN_TTL_S = 8 * 3600

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)


def _settings(request: Request) -> Settings:
    return request.app.state.holder.settings


def _render(request: Request, page: str) -> HTMLResponse:
    dev = _settings(request).dev_mode
    viewers = {name: str(viewer_id(name)) for name, role in DEMO_ACCOUNTS.items()
               if role == "viewer"} if dev else {}
    return templates.TemplateResponse(request, f"{page}.html", {
        "page": page, "pages": PAGES, "title": PAGES.get(page, "Sign in"),
        "dev_mode": dev, "accounts": list(DEMO_ACCOUNTS) if dev else [],
        "demo_viewers": viewers})


@router.get("", response_class=HTMLResponse)
async def sign_in(request: Request) -> HTMLResponse:
    return _render(request, "signin")


@router.get("/{page}", response_class=HTMLResponse)
async def console_page(page: str, request: Request) -> HTMLResponse:
    if page not in PAGES:
        raise HTTPException(404, f"No console page '{page}'; pages: {', '.join(PAGES)}.")
    return _render(request, page)


class DemoAccount(BaseModel):
    account: str


@router.post("/dev/token")
async def dev_token(body: DemoAccount, request: Request) -> dict:
    """A demo account's token, only in DEV_MODE (the same tokens `make run` prints)."""
    settings = _settings(request)
    if not settings.dev_mode:
        raise HTTPException(404, "Demo accounts exist only in DEV_MODE; paste a token instead.")
    if body.account not in DEMO_ACCOUNTS:
        raise HTTPException(422, f"account must be one of {', '.join(DEMO_ACCOUNTS)}.")
    return {"account": body.account, "userId": str(viewer_id(body.account)),
            "role": DEMO_ACCOUNTS[body.account],
            "token": demo_token(settings, body.account, ttl_s=DEV_TOKEN_TTL_S)}


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
