// The console's pages: each fills its template from the JSON API (core.js's `api`).
"use strict";

// --- viewer ------------------------------------------------------------------------
function actingToken(userId) {
  const saved = JSON.parse(sessionStorage.getItem(ACT_KEY) || "null");
  const typed = document.getElementById("viewer-token").value.trim();
  if (typed && tokenClaims(typed) && tokenClaims(typed).sub === userId) {
    sessionStorage.setItem(ACT_KEY, JSON.stringify({ userId, token: typed }));
    return typed;
  }
  return saved && saved.userId === userId ? saved.token : null;
}

async function actAs(userId, call, done) {
  const token = actingToken(userId);
  if (!token) { say("Give this viewer's token first (Act as this viewer).", true); return; }
  try {
    await call(token);
    say(done);
    await loadViewer(userId);
  } catch (error) { say(error.message, true); }
}

function feedItem(item, userId) {
  const r = item.ranking;
  const features = r
    ? `score ${fmt.num(r.score)} · behaviour ${fmt.num(r.behaviour)} · content ${fmt.num(r.content)} · popularity ${fmt.num(r.popularity)} · just watched ${fmt.num(r.justWatched)} · ${r.sources.join(", ")}`
    : `similarity ${fmt.num(item.similarity)}`;
  const basedOn = item.basedOn.length
    ? el("p", { class: "why" }, "Based on ", item.basedOn.map((b, n) => [n ? ", " : "", videoLink(b.videoId, b.title)]))
    : null;
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", "data-hide": item.videoId, text: "Hide",
      "aria-label": `Hide ${item.title}`,
      onclick: () => actAs(userId, (t) => api(`/api/v1/recommendations/hidden/${item.videoId}`, { method: "POST" }, t),
        `Hid "${item.title}" as this viewer.`) }),
    el("button", { type: "button", text: "Record a view", "aria-label": `Record a view of ${item.title}`,
      onclick: () => actAs(userId, (t) => api(`/api/v1/videos/${item.videoId}/views`, {
        method: "POST", body: JSON.stringify({ eventId: crypto.randomUUID(), secondsWatched: 540, durationS: 600 }),
      }, t), `Recorded a view of "${item.title}" as this viewer.`) }));
  return el("li", { class: "item", "data-video": item.videoId }, thumbnail(item),
    el("div", {}, el("h3", {}, videoLink(item.videoId, item.title)),
      el("p", { class: "features", text: features }), basedOn, actions));
}

async function loadViewer(userId) {
  const base = `/api/v1/admin/viewers/${userId}`;
  const [feed, interests, history] = await Promise.all([
    api(`${base}/foryou?pageSize=10`), api(`${base}/interests`), api(`${base}/history?pageSize=10`)]);
  document.getElementById("feed-meta").textContent =
    `Source: ${feed.source} · ${feed.total} recommendable within the search horizon`;
  document.getElementById("feed").replaceChildren(...feed.items.map((i) => feedItem(i, userId)));
  document.getElementById("interests").replaceChildren(...(interests.items.length
    ? interests.items.map((i) => el("li", {}, videoLink(i.videoId, i.title),
      ` · ${i.count} videos · importance ${fmt.num(i.importance, 2)}`))
    : [el("li", { text: "No interests yet (no taste profile)." })]));
  document.querySelector("#history tbody").replaceChildren(...history.items.map((h) => el("tr", {},
    el("td", {}, videoLink(h.videoId, h.title)), el("td", { text: h.playCount }),
    el("td", { text: Math.round(h.secondsWatched) }), el("td", { text: fmt.time(h.lastWatched) }),
    el("td", { text: h.hiddenAt ? "yes" : "" }))));
}

async function initViewer() {
  const form = document.getElementById("viewer-form");
  const input = document.getElementById("user-id");
  const userId = new URLSearchParams(window.location.search).get("user");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.assign(`/console/viewer?user=${encodeURIComponent(input.value.trim())}`);
  });
  if (!userId) { say("Look up a viewer by id."); return; }
  input.value = userId;
  document.getElementById("act").hidden = false;
  const demo = document.querySelector(`a[data-demo][href$="${userId}"]`);
  if (demo && !actingToken(userId)) {
    const found = await devToken(demo.dataset.demo);
    if (found) sessionStorage.setItem(ACT_KEY, JSON.stringify({ userId, token: found.token }));
    document.getElementById("viewer-token").placeholder = `DEV_MODE: acting as ${demo.dataset.demo}`;
  }
  await loadViewer(userId);
  say(`Viewer ${demo ? demo.dataset.demo : userId}`);
}

// --- video -------------------------------------------------------------------------
async function initVideo() {
  const input = document.getElementById("video-id");
  const videoId = new URLSearchParams(window.location.search).get("id");
  document.getElementById("video-form").addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.assign(`/console/video?id=${encodeURIComponent(input.value.trim())}`);
  });
  if (!videoId) { say("Open a video by id, or follow a link from a viewer's feed."); return; }
  input.value = videoId;
  const [video, related, reach] = await Promise.all([
    api(`/api/v1/videos/${videoId}`), api(`/api/v1/videos/${videoId}/related?limit=5`),
    api(`/api/v1/admin/videos/${videoId}/impressions?days=7`)]);
  document.getElementById("video").hidden = false;
  document.getElementById("video-title").textContent = video.title;
  document.getElementById("video-body").replaceChildren(thumbnail(video), el("dl", {},
    el("dt", { text: "Description" }), el("dd", { text: video.description || "–" }),
    el("dt", { text: "Tags" }), el("dd", { text: video.tags.join(", ") || "–" }),
    el("dt", { text: "Category" }), el("dd", { text: video.category || "–" }),
    el("dt", { text: "Added" }), el("dd", { text: fmt.time(video.addedDate) })));
  document.getElementById("related").replaceChildren(...related.items.map((r) => el("li", { class: "item" },
    thumbnail(r), el("div", {}, el("h3", {}, videoLink(r.videoId, r.title)),
      el("p", { class: "features", text: `${r.space} · similarity ${fmt.num(r.similarity)}` }),
      el("p", { class: "why", text: r.reason })))));
  document.getElementById("reach-summary").textContent =
    `Shown ${reach.impressions} times in the last ${reach.days.length} days (feed pages and related answers to signed-in viewers).`;
  document.querySelector("#reach tbody").replaceChildren(...reach.days.map((d) => el("tr", {},
    el("td", { text: d.day }), el("td", { text: d.impressions }), el("td", { text: d.viewers }))));
  say(`${related.items.length} related videos; shown ${reach.impressions} times in ${reach.days.length} days`);
}

// --- training runs -----------------------------------------------------------------
function chart(runs) {
  const points = runs.filter((r) => r.ndcgAt10 !== null).reverse();
  if (!points.length) return el("p", { text: "No run with a hold-out figure yet." });
  const w = 600, h = 160, pad = 30;
  const max = Math.max(...points.map((r) => r.ndcgAt10), 0.01);
  const x = (n) => pad + (points.length === 1 ? (w - 2 * pad) / 2 : (n * (w - 2 * pad)) / (points.length - 1));
  const y = (v) => h - pad - (v / max) * (h - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Hold-out NDCG@10 of ${points.length} runs, oldest to newest: ` +
    points.map((r) => fmt.num(r.ndcgAt10)).join(", "));
  const add = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    svg.append(node);
    return node;
  };
  add("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" });
  add("polyline", { points: points.map((r, n) => `${x(n)},${y(r.ndcgAt10)}`).join(" "), class: "line" });
  points.forEach((r, n) => {
    add("circle", { cx: x(n), cy: y(r.ndcgAt10), r: r.live ? 6 : 4, class: r.live ? "live" : "dot" });
    add("text", { x: x(n), y: y(r.ndcgAt10) - 10, "text-anchor": "middle" }).textContent = fmt.num(r.ndcgAt10);
  });
  return svg;
}

async function loadRuns() {
  const runs = await api("/api/v1/admin/runs");
  document.getElementById("chart").replaceChildren(chart(runs.items),
    el("figcaption", { text: "Each point a run, oldest left; the larger point is the live run." }));
  document.querySelector("#runs tbody").replaceChildren(...runs.items.map((r) => el("tr", { class: r.live ? "live" : null },
    el("td", {}, r.runId, r.live ? el("strong", { text: " (live)" }) : null),
    el("td", { text: fmt.time(r.startedAt) }), el("td", { text: r.status }),
    el("td", { text: r.engine || "–" }), el("td", { text: r.model || "–" }),
    el("td", { text: r.positives !== null ? `${r.positives} watches, ${r.dimension} factors` : `${r.dimension ?? "–"} factors` }),
    el("td", { text: fmt.num(r.ndcgAt10, 4) }),
    el("td", { text: Object.entries(r.ranker).map(([k, v]) => `${k} ${v >= 0 ? "+" : ""}${v.toFixed(2)}`).join(", ") || "–" }))));
  return runs;
}

async function pollJob(jobId, onUpdate) {
  for (;;) {
    const job = await api(`/api/v1/admin/jobs/${jobId}`);
    onUpdate(job);
    if (job.status !== "running") return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function initRuns() {
  await loadRuns();
  const button = document.getElementById("train");
  const bar = document.getElementById("train-progress");
  const state = document.getElementById("train-state");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const started = await api("/api/v1/admin/jobs/train", { method: "POST" });
      bar.hidden = false;
      const job = await pollJob(started.jobId, (j) => {
        const p = j.progress || {};
        bar.max = p.total || 1;
        bar.value = p.done || 0;
        state.textContent = `Training job ${j.status}: step ${p.done || 0} of ${p.total || "?"}`;
      });
      state.textContent = job.status === "succeeded"
        ? `Training job succeeded: run ${job.result.runId} is live.`
        : `Training job ${job.status}: ${job.error || ""}`;
      await loadRuns();
    } catch (error) { say(error.message, true); }
    button.disabled = false;
  });
  say("Runs loaded.");
}

// --- jobs --------------------------------------------------------------------------
async function initJobs() {
  for (;;) {
    const jobs = await api("/api/v1/admin/jobs");
    document.querySelector("#jobs tbody").replaceChildren(...jobs.items.map((j) => el("tr", {},
      el("td", { text: j.kind }), el("td", { text: j.status }),
      el("td", {}, el("progress", { max: j.progress.total || 1, value: j.progress.done || 0,
        "aria-label": `${j.kind} progress` }), ` ${j.progress.done ?? 0}/${j.progress.total ?? "?"}`),
      el("td", { text: fmt.time(j.startedAt) }), el("td", { text: fmt.time(j.finishedAt) }),
      el("td", { text: j.owner }), el("td", { text: j.error || "" }))));
    say(jobs.items.length ? `${jobs.items.length} job kinds have run.` : "No job has run yet.");
    if (!jobs.items.some((j) => j.status === "running")) return;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// --- health ------------------------------------------------------------------------
async function initHealth() {
  const rows = [];
  const live = await fetch("/healthz");
  rows.push(["Process", live.ok ? "up" : `answers ${live.status}`]);
  const ready = await fetch("/readyz");
  const readyBody = await ready.json();
  rows.push(["Readiness", ready.ok ? "ready" : `not ready: ${readyBody.detail}`]);
  rows.push(["Cassandra", ready.ok ? "reachable" : "not reachable or behind (see readiness)"]);
  rows.push(["Schema version", ready.ok ? String(readyBody.schemaVersion) : "–"]);
  const runs = await api("/api/v1/admin/runs?limit=1");
  rows.push(["Live training run", runs.liveRunId || "none (the feed runs on content only)"]);
  document.getElementById("health").replaceChildren(...rows.flatMap(([k, v]) =>
    [el("dt", { text: k }), el("dd", { text: v })]));
  say(ready.ok ? "All good." : "Not ready.", !ready.ok);
}

const PAGES = { signin: initSignIn, viewer: initViewer, video: initVideo, runs: initRuns,
  jobs: initJobs, experiments: initExperiments, health: initHealth };
initHeader();
Promise.resolve(PAGES[page]()).catch((error) => say(error.message, true));
