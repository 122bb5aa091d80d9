// The Experiments page: every experiment with its split and start/stop; one experiment's
// results (the CIs of the differences from control drawn around 0, the SRM check,
// warnings, guardrails); the feed's daily online metrics as line charts and a table.
// Loaded after core.js and before pages.js, which registers initExperiments.
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";
// Told apart by more than hue: each series also has its own dash pattern.
const SERIES_STYLE = [["#0b5cad", ""], ["#b34700", "6 3"], ["#0a6b34", "2 3"],
  ["#6b2fa3", "10 3 2 3"], ["#1b1f24", "1 4"], ["#a3161b", "8 6"]];

// An axis label: two significant digits, whatever the scale.
const tick = (v) => String(Number(v.toPrecision(2)));

function svgFigure(w, h, label) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  return [svg, add];
}

// --- experiments -------------------------------------------------------------------
function split(e) {
  return e.variants.map((v) => {
    const o = Object.entries(v.overrides).map(([k, x]) => `${k}: ${x}`).join(", ");
    return `${v.name} ${v.percent}%${o ? ` (${o})` : ""}`;
  }).join(" · ");
}

function experimentRow(e, shown) {
  const act = (verb) => el("button", { type: "button", "aria-label": `${verb} ${e.name}`,
    text: verb, onclick: async () => {
      try {
        await api(`/api/v1/admin/experiments/${e.experimentId}/${verb.toLowerCase()}`, { method: "POST" });
        await loadExperiments(e.experimentId);
        say(`${verb === "Start" ? "Started" : "Stopped"} ${e.name}.`);
      } catch (error) { say(error.message, true); }
    } });
  return el("tr", { class: e.experimentId === shown ? "shown" : null },
    el("td", {}, el("a", { href: `/console/experiments?id=${e.experimentId}`, text: e.name,
      "aria-current": e.experimentId === shown ? "true" : null })),
    el("td", { text: e.status }), el("td", { text: split(e) }),
    el("td", { text: fmt.time(e.startedAt) }), el("td", { text: fmt.time(e.stoppedAt) }),
    el("td", {}, e.status === "draft" ? act("Start") : e.status === "running" ? act("Stop") : "–"));
}

// One row per non-control variant: its 95% CI as a bar around 0, its estimate a dot.
function intervalChart(rows, what) {
  const shown = rows.filter((r) => r.iv);
  if (!shown.length) return el("p", { text: `No interval for ${what} yet (it needs viewers in control and the variant).` });
  const w = 600, left = 130, right = 20, rowH = 34, h = 40 + rowH * shown.length;
  const max = Math.max(...shown.flatMap((r) => [Math.abs(r.iv.low), Math.abs(r.iv.high)]), 1e-9);
  const x = (v) => left + ((v / max + 1) / 2) * (w - left - right);
  const [svg, add] = svgFigure(w, h, `Difference from control in ${what}, 95% confidence intervals: ` +
    shown.map((r) => `${r.name} ${fmt.num(r.iv.difference, 4)} (${fmt.num(r.iv.low, 4)} to ${fmt.num(r.iv.high, 4)})`).join("; "));
  add("line", { x1: x(0), y1: 8, x2: x(0), y2: h - 22, class: "axis" });
  add("text", { x: x(0), y: h - 6, "text-anchor": "middle" }, "0");
  add("text", { x: x(-max), y: h - 6, "text-anchor": "start" }, tick(-max));
  add("text", { x: x(max), y: h - 6, "text-anchor": "end" }, `+${tick(max)}`);
  shown.forEach((r, n) => {
    const y = 24 + n * rowH;
    const side = r.iv.low > 0 ? "win" : r.iv.high < 0 ? "loss" : "line";
    add("text", { x: left - 8, y: y + 4, "text-anchor": "end" }, r.name);
    add("line", { x1: x(r.iv.low), y1: y, x2: x(r.iv.high), y2: y, class: `interval ${side}` });
    add("circle", { cx: x(r.iv.difference), cy: y, r: 5, class: "dot" });
  });
  return svg;
}

function ci(iv, digits) {
  return iv ? `${iv.difference >= 0 ? "+" : ""}${fmt.num(iv.difference, digits)} [${fmt.num(iv.low, digits)}, ${fmt.num(iv.high, digits)}]` : "–";
}

function showResults(r) {
  document.getElementById("results").hidden = false;
  document.getElementById("results-title").textContent = `Results: ${r.experiment.name} (${r.experiment.status})`;
  const srm = document.getElementById("srm");
  srm.textContent = r.srmPValue === null
    ? "SRM check: no viewers yet, nothing to test."
    : `SRM check: p = ${fmt.num(r.srmPValue, 4)}, ${r.sampleRatioMismatch
      ? "sample ratio mismatch: assignment or recording is broken; do not read the differences."
      : "no sample ratio mismatch."}`;
  srm.classList.toggle("error", r.sampleRatioMismatch);
  document.getElementById("warnings").replaceChildren(...(r.warnings.length
    ? r.warnings.map((w) => el("li", { text: w })) : [el("li", { text: "None." })]));
  document.querySelector("#variants tbody").replaceChildren(...r.variants.map((v, n) => el("tr", {},
    el("th", { scope: "row", text: n ? v.name : `${v.name} (control)` }), el("td", { text: `${v.percent}%` }),
    el("td", { text: v.viewers }), el("td", { text: v.impressions }), el("td", { text: v.attributedViews }),
    el("td", { text: fmt.num(v.ctr, 4) }), el("td", { text: fmt.num(v.watchSecondsPerImpression, 2) }),
    el("td", { text: n ? ci(v.ctrVsControl, 4) : "–" }),
    el("td", { text: n ? ci(v.watchSecondsPerImpressionVsControl, 2) : "–" }),
    el("td", { text: v.guardrails.join("; ") || "none" }))));
  const others = r.variants.slice(1);
  document.getElementById("ctr-ci").replaceChildren(
    intervalChart(others.map((v) => ({ name: v.name, iv: v.ctrVsControl })), "CTR"),
    el("figcaption", { text: "CTR, variant minus control: the bar is the 95% CI, the dot the estimate; a bar wholly right of 0 is a win." }));
  document.getElementById("watch-ci").replaceChildren(
    intervalChart(others.map((v) => ({ name: v.name, iv: v.watchSecondsPerImpressionVsControl })), "watch seconds per impression"),
    el("figcaption", { text: "Watch seconds per impression, variant minus control, 95% CI." }));
}

async function loadExperiments(wanted) {
  const all = await api("/api/v1/admin/experiments");
  const chosen = all.find((e) => e.experimentId === wanted)
    || all.find((e) => e.status === "running") || all[0];
  document.querySelector("#experiments tbody").replaceChildren(...(all.length
    ? all.map((e) => experimentRow(e, chosen && chosen.experimentId))
    : [el("tr", {}, el("td", { colspan: 6, text: "No experiment yet: create one with POST /api/v1/admin/experiments." }))]));
  if (chosen) showResults(await api(`/api/v1/admin/experiments/${chosen.experimentId}/results`));
  return all.length;
}

// --- online metrics ----------------------------------------------------------------
function dayList(from, to) {
  const days = [];
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

function lineChart(series, days, key, what, digits) {
  const w = 600, h = 180, pad = 48;
  const values = series.flatMap((s) => s.rows.map((m) => m[key]).filter((v) => v !== null));
  if (!values.length) return el("p", { text: `No ${what} in these days.` });
  const max = Math.max(...values, 1e-9);
  const x = (day) => pad + (days.length === 1 ? (w - 2 * pad) / 2 : (days.indexOf(day) * (w - 2 * pad)) / (days.length - 1));
  const y = (v) => h - pad - (v / max) * (h - 2 * pad);
  const [svg, add] = svgFigure(w, h, `Daily ${what} per source and variant, ${days[0]} to ${days[days.length - 1]}: ` +
    series.map((s) => `${s.name}: ${s.rows.map((m) => `${m.day} ${fmt.num(m[key], digits)}`).join(", ")}`).join("; "));
  add("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" });
  add("line", { x1: pad, y1: y(max), x2: w - pad, y2: y(max), class: "grid" });
  add("text", { x: pad - 4, y: y(max) + 4, "text-anchor": "end" }, tick(max));
  add("text", { x: pad - 4, y: h - pad + 4, "text-anchor": "end" }, "0");
  add("text", { x: pad, y: h - pad + 16, "text-anchor": "start" }, days[0].slice(5));
  if (days.length > 1) add("text", { x: w - pad, y: h - pad + 16, "text-anchor": "end" }, days[days.length - 1].slice(5));
  series.forEach((s, n) => {
    const [colour, dash] = SERIES_STYLE[n % SERIES_STYLE.length];
    const points = s.rows.filter((m) => m[key] !== null);
    add("polyline", { points: points.map((m) => `${x(m.day)},${y(m[key])}`).join(" "),
      fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash });
    points.forEach((m) => add("circle", { cx: x(m.day), cy: y(m[key]), r: 3.5, fill: colour, class: "point" }));
  });
  return svg;
}

function legend(series) {
  return el("ul", { class: "legend" }, series.map((s, n) => {
    const [colour, dash] = SERIES_STYLE[n % SERIES_STYLE.length];
    const [svg, add] = svgFigure(28, 10, "");
    svg.setAttribute("aria-hidden", "true");
    svg.removeAttribute("role");
    svg.removeAttribute("aria-label");
    add("line", { x1: 0, y1: 5, x2: 28, y2: 5, stroke: colour, "stroke-width": 3, "stroke-dasharray": dash });
    return el("li", {}, svg, ` ${s.name}`);
  }));
}

async function loadMetrics(from, to) {
  const found = await api(`/api/v1/admin/metrics/recommendations?from=${from}&to=${to}`);
  const days = dayList(found.from, found.to);
  const byName = new Map();
  for (const m of found.days) {
    const name = `${m.source} / ${m.variant}`;
    if (!byName.has(name)) byName.set(name, { name, rows: [] });
    byName.get(name).rows.push(m);
  }
  const series = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const [id, key, what, digits] of [["ctr-chart", "ctr", "CTR", 3],
    ["watch-chart", "watchSecondsPerImpression", "watch seconds per impression", 1]]) {
    document.getElementById(id).replaceChildren(lineChart(series, days, key, what, digits),
      legend(series), el("figcaption", { text: `Daily ${what}, one line per source / variant.` }));
  }
  document.querySelector("#metrics tbody").replaceChildren(...(found.days.length
    ? found.days.map((m) => el("tr", {}, el("td", { text: m.day }), el("td", { text: m.source }),
      el("td", { text: m.variant }), el("td", { text: m.pages }), el("td", { text: m.impressions }),
      el("td", { text: m.attributedViews }), el("td", { text: fmt.num(m.ctr, 4) }),
      el("td", { text: fmt.num(m.watchSecondsPerImpression, 2) }),
      el("td", { text: m.newViewerPages }), el("td", { text: fmt.pct(m.newViewerPersonalisedShare) })))
    : [el("tr", {}, el("td", { colspan: 10, text: "Nothing recorded in these days." }))]));
  document.querySelector("#coverage tbody").replaceChildren(...found.coverage.map((c) =>
    el("tr", {}, el("td", { text: c.day }), el("td", { text: c.distinctVideosShown }),
      el("td", { text: c.catalogueSize ?? "–" }), el("td", { text: fmt.pct(c.catalogueCoverage) }))));
  return found.days.length;
}

async function initExperiments() {
  const count = await loadExperiments(new URLSearchParams(window.location.search).get("id"));
  const fromInput = document.getElementById("metrics-from");
  const toInput = document.getElementById("metrics-to");
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 86400e3).toISOString().slice(0, 10);
  fromInput.value = weekAgo;
  toInput.value = today;
  document.getElementById("metrics-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const rows = await loadMetrics(fromInput.value, toInput.value);
      say(`${rows} daily rows from ${fromInput.value} to ${toInput.value}.`);
    } catch (error) { say(error.message, true); }
  });
  const rows = await loadMetrics(weekAgo, today);
  say(`${count} experiments; ${rows} daily metric rows in the last 7 days.`);
}
