"""The operator console in a real Chromium against the demo: sign in with the keyboard,
dana's and carlos's feeds, hide an item and see it leave, record a view, a video's related
videos, a training job to its end, jobs and health, and an experiment's results and the
online metrics after demo viewers' feed requests. Every page is checked with axe-core
(no serious or critical violation) and photographed at 1280 and 390 px for docs/console.md.
Any console error, page error, failed request or error response fails the test."""
from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import pytest
from playwright.sync_api import Page, expect

from killrvideo_reco.auth import mint
from killrvideo_reco.jobs.demo import VIEWERS, viewer_id
from killrvideo_reco.settings import Settings
from tests.browser.conftest import SHOTS

WIDTHS = (1280, 390)
# The demo's thumbnail URLs name a CDN that does not exist; the test stands in for it so
# the screenshots show thumbnails (a failed thumbnail falls back to the placeholder).
DEMO_CDN = "https://cdn.killrvideo.example/**"
THUMB = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180">'
         '<rect width="320" height="180" fill="#8fa9c9"/><circle cx="160" cy="90" r="40" '
         'fill="#ffffff" fill-opacity="0.7"/><path d="M148 70 L180 90 L148 110 Z" '
         'fill="#14213d"/></svg>')


class Watcher:
    """Everything that went wrong in the page: the test fails on any of it."""

    def __init__(self, page: Page, base: str):
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(
            f"request failed: {r.method} {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"error response: {r.status} {r.request.method} {r.url}"))

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="module")
def session(browser, demo_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(DEMO_CDN, lambda route: route.fulfill(
        status=200, content_type="image/svg+xml", body=THUMB))
    page = context.new_page()
    page.set_default_timeout(30_000)
    watcher = Watcher(page, demo_app)
    yield page, demo_app, watcher
    context.close()


def audit(page: Page, axe_script, name: str) -> None:
    """axe-core's WCAG 2 A/AA rules on the page as shown; then its screenshots."""
    page.add_script_tag(path=str(axe_script))
    found = page.evaluate("""async () => (await axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
    })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))""")
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: axe-core violations {serious}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name}: the page is {wide} px wide in a {width} px window"
        page.screenshot(path=SHOTS / f"{name}-{width}.jpg", full_page=True, type="jpeg",
                        quality=70)
    page.set_viewport_size({"width": 1280, "height": 900})


def feed_ids(page: Page) -> list[str]:
    return page.locator("#feed > li").evaluate_all("items => items.map(i => i.dataset.video)")


def test_sign_in_with_the_keyboard(session, axe_script):
    page, base, watcher = session
    page.goto(f"{base}/console")
    expect(page.get_by_label("Moderator token (JWT)")).to_be_visible()
    audit(page, axe_script, "signin")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(30):  # every control is reachable by Tab
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "demo-account":
            break
    expect(page.get_by_label("Demo account")).to_have_value("operator")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Use demo account")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/viewer$"))
    expect(page.locator("#who")).to_contain_text("moderator")
    assert "eyJ" not in page.url, "the token never goes into a URL"
    watcher.check()


def test_danas_feed_and_hiding_an_item(session, axe_script):
    page, base, watcher = session
    page.get_by_role("link", name="dana").click()
    expect(page).to_have_url(re.compile(f"user={viewer_id('dana')}"))
    expect(page.locator("#feed > li")).to_have_count(10)
    expect(page.locator("#feed-meta")).to_contain_text("personalized")
    first = page.locator("#feed > li").first
    expect(first.locator(".features")).to_contain_text("score")
    expect(first.locator(".why")).to_contain_text("Based on")
    expect(first.locator(".why a")).not_to_have_count(0)  # links to the cited videos
    assert "http" not in first.locator(".why").inner_text()
    expect(page.locator("#interests > li").first).to_contain_text("videos")
    expect(page.locator("#history tbody tr")).to_have_count(10)
    audit(page, axe_script, "viewer")
    hidden = feed_ids(page)[0]
    title = first.locator("h3").inner_text()
    first.get_by_role("button", name=f"Hide {title}").click()
    expect(page.locator("#status")).to_contain_text(f'Hid "{title}"')
    expect(page.locator(f'#feed > li[data-video="{hidden}"]')).to_have_count(0)
    expect(page.locator("#feed > li")).to_have_count(10)
    expect(page.locator("#history tbody tr").first).to_contain_text("yes")  # hidden, first
    watcher.check()


def test_carlos_feed_and_recording_a_view(session):
    page, base, watcher = session
    page.get_by_role("link", name="carlos").click()
    expect(page).to_have_url(re.compile(f"user={viewer_id('carlos')}"))
    expect(page.locator("#feed > li")).to_have_count(10)
    watched = feed_ids(page)[0]
    title = page.locator("#feed > li h3").first.inner_text()
    page.get_by_role("button", name=f"Record a view of {title}").click()
    expect(page.locator("#status")).to_contain_text(f'Recorded a view of "{title}"')
    expect(page.locator(f'#feed > li[data-video="{watched}"]')).to_have_count(0)
    expect(page.locator("#history tbody tr").first).to_contain_text(title)
    watcher.check()


def test_a_videos_related_videos_and_who_it_was_shown_to(session, axe_script):
    page, base, watcher = session
    link = page.locator("#feed > li h3 a").first
    video = re.search(r"id=([0-9a-f-]{36})", link.get_attribute("href")).group(1)
    # The public feed, as the site asks for it, shows carlos and dana pages (impressions):
    # the video's counts must include each page that showed it.
    token = {name: call(base, "POST", "/console/dev/token", body={"account": name})["token"]
             for name in ("operator", "carlos", "dana")}
    showing = [name for name in ("carlos", "dana") for _ in range(2)
               if video in {i["videoId"] for i in call(
                   base, "GET", "/api/v1/recommendations/foryou?pageSize=50", token[name])["items"]}]
    assert showing, "carlos's own feed shows the video he opened"
    counts = {}
    for _ in range(30):  # recorded in the background: wait a little
        counts = call(base, "GET", f"/api/v1/admin/videos/{video}/impressions?days=7",
                      token["operator"])
        if counts["impressions"] >= len(showing):
            break
        time.sleep(0.5)
    assert counts["days"][0]["viewers"] >= len(set(showing)), counts
    link.click()
    expect(page).to_have_url(re.compile(r"/console/video\?id="))
    expect(page.locator("#video-title")).not_to_be_empty()
    expect(page.locator("#related > li")).to_have_count(5)
    expect(page.locator("#related > li .why").first).not_to_be_empty()
    days = page.locator("#reach tbody tr")
    expect(days).to_have_count(7)
    today = datetime.now(timezone.utc).date().isoformat()
    expect(days.first.locator("td").first).to_have_text(today)
    shown_today = int(days.first.locator("td").nth(1).inner_text())
    viewers_today = int(days.first.locator("td").nth(2).inner_text())
    assert shown_today >= len(showing) and viewers_today >= len(set(showing))
    expect(page.locator("#reach-summary")).to_contain_text(re.compile(
        r"Shown \d+ times in the last 7 days"))
    audit(page, axe_script, "video")
    watcher.check()


def test_a_training_job_runs_to_the_end(session, axe_script):
    page, base, watcher = session
    page.get_by_role("link", name="Training runs").click()
    expect(page.locator("#runs tbody tr.live")).to_have_count(1)  # the demo's own run
    runs = page.locator("#runs tbody tr").count()
    before = page.locator("#runs tbody tr.live td").first.inner_text()
    page.get_by_role("button", name="Start a training job").click()
    expect(page.locator("#train-state")).to_contain_text("succeeded", timeout=300_000)
    expect(page.locator("#runs tbody tr")).to_have_count(runs + 1)
    after = page.locator("#runs tbody tr.live td").first.inner_text()
    assert after != before and "(live)" in after
    expect(page.locator("#chart svg circle")).to_have_count(runs + 1)
    expect(page.locator("#chart svg circle.live")).to_have_count(1)
    audit(page, axe_script, "runs")
    watcher.check()


def test_jobs_and_health(session, axe_script):
    page, base, watcher = session
    page.get_by_role("link", name="Jobs").click()
    train = page.locator("#jobs tbody tr", has_text="train")
    expect(train).to_contain_text("succeeded")
    audit(page, axe_script, "jobs")
    page.get_by_role("link", name="Health").click()
    expect(page.locator("#health")).to_contain_text("ready")
    expect(page.locator("#health")).to_contain_text("reachable")
    expect(page.locator("#health")).to_contain_text("Schema version")
    audit(page, axe_script, "health")
    watcher.check()


def call(base: str, method: str, path: str, token: str | None = None, body=None) -> dict:
    """The JSON API as any client calls it (what the console reads, made outside it)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{base}{path}", method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def test_an_experiments_results_and_the_online_metrics(session, axe_script):
    page, base, watcher = session
    token = {name: call(base, "POST", "/console/dev/token", body={"account": name})["token"]
             for name in ("operator", *VIEWERS, "newcomer")}
    # Twelve more viewers with no history (tokens signed with the demo's development
    # secret), so that both variants almost surely get the two viewers an interval needs.
    settings = Settings(dev_mode=True)
    token.update({f"guest-{n}": mint(settings, uuid.uuid4(), ["viewer"], ttl_s=3600)
                  for n in range(12)})
    viewers = [name for name in token if name != "operator"]
    admin = "/api/v1/admin/experiments"
    created = call(base, "POST", admin, token["operator"], {
        "name": "popular-vs-personal", "variants": [
            {"name": "control", "percent": 50},
            {"name": "popularity", "percent": 50, "overrides": {"popularity": True}}]})
    experiment = created["experimentId"]
    call(base, "POST", f"{admin}/{experiment}/start", token["operator"])
    def counted(served: int, watched: int) -> tuple[dict, int, int]:
        for _ in range(30):  # impressions and clicks are counted in the background
            results = call(base, "GET", f"{admin}/{experiment}/results", token["operator"])
            shown = sum(v["impressions"] for v in results["variants"])
            clicks = sum(v["attributedViews"] for v in results["variants"])
            if shown >= served and clicks >= watched:
                break
            time.sleep(0.5)
        return results, shown, clicks

    # Two feed pages for each demo viewer: impressions in their variant.
    first_pages = {name: [call(base, "GET", f"/api/v1/recommendations/foryou?page={number}",
                               token[name]) for number in (1, 2)] for name in viewers}
    served = sum(len(p["items"]) for pages in first_pages.values() for p in pages)
    assert served > 0
    # Clicks once the pages are recorded (a real viewer clicks seconds later), so that each
    # is attributed to the page it names.
    assert counted(served, 0)[1] == served
    watched = 0
    for n, name in enumerate(viewers):
        page_one = first_pages[name][0]
        for item in page_one["items"][:1 + n % 2]:  # watch one or two of them: clicks
            call(base, "POST", f"/api/v1/videos/{item['videoId']}/views", token[name], {
                "eventId": f"browser-{name}-{item['videoId']}",
                "secondsWatched": 60.0 * (n % 5 + 1),
                "durationS": 600.0, "recommendationId": page_one["recommendationId"]})
            watched += 1
    results, shown, clicks = counted(served, watched)
    assert (shown, clicks) == (served, watched), results
    page.get_by_role("link", name="Experiments").click()
    expect(page).to_have_url(re.compile(r"/console/experiments$"))
    row = page.locator("#experiments tbody tr", has_text="popular-vs-personal")
    expect(row).to_contain_text("running")
    expect(row).to_contain_text("control 50%")
    expect(row).to_contain_text("popularity 50% (popularity: true)")
    variants = page.locator("#variants tbody tr")
    expect(variants).to_have_count(2)
    expect(variants.nth(0)).to_contain_text("control (control)")
    expect(variants.nth(1)).to_contain_text("popularity")
    on_page = sum(int(variants.nth(n).locator("td").nth(2).inner_text()) for n in range(2))
    assert on_page == shown
    expect(page.locator("#ctr-ci svg[role=img] line.interval")).to_have_count(1)
    expect(page.locator("#watch-ci svg[role=img] line.interval")).to_have_count(1)
    expect(page.locator("#srm")).to_contain_text(re.compile(r"SRM check: p = \d\.\d{4}, "))
    expect(page.locator("#warnings li").first).not_to_be_empty()  # few viewers: a warning
    today = datetime.now(timezone.utc).date().isoformat()
    expect(page.get_by_label("From (UTC day)")).not_to_have_value("")
    expect(page.get_by_label("To", exact=True)).to_have_value(today)
    today_rows = page.locator("#metrics tbody tr", has_text=today)
    expect(today_rows).not_to_have_count(0)
    impressions = sum(int(t) for t in today_rows.evaluate_all(
        "rows => rows.map(r => r.cells[4].textContent)"))
    assert impressions >= shown  # the earlier tests' pages count too
    assert sum(int(t) for t in today_rows.evaluate_all(
        "rows => rows.map(r => r.cells[5].textContent)")) >= watched  # attributed views
    # New viewers (the guests and the newcomer, no history) got feed pages today; those
    # in the popularity variant are not classified (that feed reads no profile).
    assert sum(int(t) for t in today_rows.evaluate_all(
        "rows => rows.map(r => r.cells[8].textContent)")) > 0
    covered = page.locator("#coverage tbody tr", has_text=today)
    expect(covered).to_have_count(1)
    assert int(covered.locator("td").nth(1).inner_text()) > 0  # distinct videos shown
    expect(covered.locator("td").nth(3)).to_contain_text("%")
    expect(page.locator("#ctr-chart svg[role=img] circle")).not_to_have_count(0)
    expect(page.locator("#watch-chart svg[role=img]")).to_have_count(1)
    audit(page, axe_script, "experiments")
    page.get_by_role("button", name="Stop popular-vs-personal").click()
    expect(page.locator("#status")).to_contain_text("Stopped popular-vs-personal")
    expect(row).to_contain_text("stopped")
    watcher.check()
