// The operator console's shared part: the API call with the moderator's token
// (sessionStorage: this tab only; sent in the Authorization header, never in a URL), DOM
// helpers, sign-in and the header. pages.js, loaded after it, fills each page.
"use strict";
const TOKEN_KEY = "kvConsoleToken";
const ACT_KEY = "kvConsoleActAs"; // {userId, token}: a test viewer the operator acts as
const page = document.body.dataset.page;
const statusLine = document.getElementById("status");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function say(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) {
    return null;
  }
}

async function api(path, options = {}, token = sessionStorage.getItem(TOKEN_KEY)) {
  if (!token) {
    window.location.assign("/console");
    throw new Error("not signed in");
  }
  const headers = { Authorization: `Bearer ${token}`, ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, { ...options, headers });
  const body = answer.status === 204 ? null : await answer.json();
  if (!answer.ok) {
    const detail = (body && body.detail) || answer.statusText;
    throw new Error(`${answer.status}: ${detail}`);
  }
  return body;
}

const fmt = {
  time: (t) => (t ? t.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "–"),
  num: (x, digits = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits)),
  pct: (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`),
};

function thumbnail(item) {
  const holder = el("div", { class: "thumb", "aria-hidden": "true", text: item.title.slice(0, 1) });
  if (!item.thumbnailUrl) return holder;
  const img = el("img", { class: "thumb", src: item.thumbnailUrl, alt: "", loading: "lazy" });
  img.addEventListener("error", () => img.replaceWith(holder));
  return img;
}

function videoLink(id, title) {
  return el("a", { href: `/console/video?id=${id}`, text: title || id });
}

// --- sign in -----------------------------------------------------------------------
function signIn(token) {
  const claims = tokenClaims(token);
  if (!claims || !claims.sub) {
    say("That is not a JWT (three dot-separated parts with a 'sub' claim).", true);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  window.location.assign("/console/viewer");
}

function initSignIn() {
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn(document.getElementById("token").value.trim());
  });
  const demo = document.getElementById("demo-form");
  if (demo) demo.addEventListener("submit", async (event) => {
    event.preventDefault();
    const account = document.getElementById("demo-account").value;
    const found = await devToken(account);
    if (found) signIn(found.token);
  });
}

async function devToken(account) {
  const answer = await fetch("/console/dev/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ account }),
  });
  const body = await answer.json();
  if (!answer.ok) { say(body.detail, true); return null; }
  return body;
}

// --- every page --------------------------------------------------------------------
function initHeader() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const claims = token && tokenClaims(token);
  document.getElementById("who").textContent = claims
    ? `Signed in as ${claims.sub} (${[].concat(claims.roles || []).join(", ")})` : "Not signed in";
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.clear();
    window.location.assign("/console");
  });
}

