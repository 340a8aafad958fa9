// The hub's operations dashboard: plain JS, no dependencies, charts drawn as inline SVG.
// Every piece of data is inserted as text (never as HTML), and every request carries the token.
"use strict";

const TOKEN_KEY = "hub-ops-token";
const REFRESH_MS = 5000;
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  view: "overview",
  filter: { status: "parked" },
  selected: new Set(),
  detailId: null,
  subject: "",
  busy: false,
};

// ------------------------------------------------------------------ DOM helpers

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
}

function fill(id, ...nodes) {
  document.getElementById(id).replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined));
}

function table(headers, rows, opts = {}) {
  const head = h("tr", null, headers.filter((c) => c !== null).map((c) => h("th", { class: /^[#≥]|count|failures|ready|unacked|rate|open|overdue|met/i.test(c) ? "num" : null }, c)));
  return h("table", { id: opts.id || null }, h("thead", null, head), h("tbody", null, rows));
}

function num(value) {
  return h("td", { class: "num" }, value === null || value === undefined ? "–" : value);
}

function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, body) {
    super(typeof body === "object" && body && body.detail ? JSON.stringify(body.detail) : String(status));
    this.status = status;
    this.body = body;
  }
}

async function call(path, opts = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(opts.body ? { "Content-Type": "application/json" } : {}) };
  const res = await fetch(path, { ...opts, headers });
  if (res.status === 401) {
    signOut("The token was not accepted.");
    throw new ApiError(401, null);
  }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  return { status: res.status, body };
}

async function api(path) {
  const { status, body } = await call(path);
  if (status >= 400) throw new ApiError(status, body);
  return body;
}

async function post(path, payload) {
  return call(path, { method: "POST", body: JSON.stringify(payload) });
}

function explain(res) {
  const b = res.body || {};
  if (typeof b.detail === "string") return b.detail;
  if (Array.isArray(b.detail)) return b.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ");
  return b.why || `HTTP ${res.status}`;
}

// ------------------------------------------------------------------ charts (inline SVG)

function hbars(items, opts = {}) {
  const width = opts.width || 520;
  const labelW = opts.labelWidth || 190;
  const row = 20;
  const max = Math.max(1, ...items.map((i) => i.parts.reduce((a, p) => a + (p.value || 0), 0)));
  const barW = width - labelW - 50;
  const g = items.map((item, n) => {
    let x = labelW;
    const y = n * row + 2;
    const total = item.parts.reduce((a, p) => a + (p.value || 0), 0);
    const rects = item.parts.map((p) => {
      const w = ((p.value || 0) / max) * barW;
      const r = svg("rect", { x, y, width: Math.max(w, 0), height: row - 6, fill: p.color, rx: 2 }, svg("title", null, `${p.name}: ${p.value}`));
      x += w;
      return r;
    });
    return svg("g", null,
      svg("text", { x: labelW - 6, y: y + 11, "text-anchor": "end" }, item.label),
      rects,
      svg("text", { x: x + 5, y: y + 11 }, item.unknown ? "?" : total));
  });
  const chart = svg("svg", { width, height: Math.max(items.length * row, row), role: "img", class: "chart" }, g);
  const legend = opts.legend ? h("div", { class: "legend" }, opts.legend.map(([name, color]) => h("span", null, h("i", { style: `background:${color}` }), name))) : null;
  return h("div", null, chart, legend);
}

function vbars(items, opts = {}) {
  const width = opts.width || 360;
  const height = opts.height || 150;
  const max = Math.max(1, ...items.map((i) => i.value));
  const slot = width / Math.max(items.length, 1);
  const bars = items.map((item, n) => {
    const bh = (item.value / max) * (height - 36);
    const x = n * slot + 4;
    return svg("g", null,
      svg("rect", { x, y: height - 20 - bh, width: slot - 8, height: bh, fill: item.color || "#1f5fa8", rx: 2 }, svg("title", null, `${item.label}: ${item.value}`)),
      svg("text", { x: x + (slot - 8) / 2, y: height - 24 - bh, "text-anchor": "middle" }, item.value),
      svg("text", { x: x + (slot - 8) / 2, y: height - 6, "text-anchor": "middle" }, item.label));
  });
  return svg("svg", { width, height, role: "img", class: "chart" }, bars);
}

// ------------------------------------------------------------------ overview

async function renderOverview() {
  const [ov, queues, connectors, acks, groups, delivery] = await Promise.all([
    api("/api/overview"), api("/api/queues"), api("/api/connectors"),
    api("/api/acknowledgements"), api("/api/dead-letters/groups"), api("/api/delivery-acks?limit=50"),
  ]);
  renderKpis(ov, queues);
  renderQueues(queues);
  renderConnectors(connectors);
  renderAcks(acks);
  renderDeliveryAcks(delivery);
  fill("groups-overview", groupsTable(groups));
}

// Destinations a message was sent to that have not acknowledged it (the hub's consumer's
// delivery, or the unit's receipt or compliance): alerted ones were sent again and still are not.
function renderDeliveryAcks(d) {
  const alerted = Object.values(d.alerted).reduce((a, n) => a + n, 0);
  const open = Object.values(d.open).reduce((a, n) => a + n, 0);
  const summary = document.getElementById("acks-summary");
  summary.textContent = alerted ? `${alerted} need a look` : `${open} open`;
  summary.className = `badge ${alerted ? "bad" : "ok"}`;
  fill("delivery-acks", d.items.length ? table(["subject", "kind", "queue", "sent", "# sent again", "state"], d.items.map((a) => h("tr", { class: "clickable", dataset: { ack: a.queue }, onclick: () => openTimeline(a.subject) },
    h("td", null, a.subject), h("td", null, a.kind), h("td", null, a.queue), h("td", null, fmtTime(a.sent_at)), num(a.tries),
    h("td", null, a.alerted_at ? badge(`unacknowledged since ${fmtTime(a.alerted_at)}`, "bad") : `next look ${a.next_at ? fmtTime(a.next_at) : "when due"}`)))) : h("p", { class: "muted" }, "Every destination acknowledged."));
}

// A RabbitMQ resource alarm blocks publishing: the hub pauses its intake until it clears.
async function renderBanner() {
  const b = await api("/api/broker");
  const banner = document.getElementById("broker-banner");
  const alarms = (b.alarms || []).join(", ");
  if (b.blocked) {
    banner.textContent = `RabbitMQ is blocking the hub's publishing${alarms ? ` (resource alarm: ${alarms})` : ""} since ${fmtTime(b.blocked_since)}: intake is paused, nothing is lost, it resumes when the alarm clears.`;
  } else if (alarms) {
    banner.textContent = `RabbitMQ resource alarm: ${alarms}. Publishing connections are blocked until it clears.`;
  }
  banner.hidden = !(b.blocked || alarms);
}

function renderKpis(ov, queues) {
  const inProgress = Object.entries(ov.orders).filter(([s]) => !s.startsWith("complied") && s !== "certified").reduce((a, [, n]) => a + n, 0);
  const cards = [
    ["Parked dead letters", ov.dead_letters_parked, ov.dead_letters_parked ? "bad" : "ok", "#dead-letters"],
    ["Overdue deadlines", ov.deadlines_overdue, ov.deadlines_overdue ? "bad" : "ok", null],
    ["Open deadlines", ov.deadlines_open, "", null],
    ["Orders in progress", inProgress, "", null],
    ["Messages waiting", queues.totals.ready, queues.totals.ready > 1000 ? "warn" : "", null],
    ["Outbox backlog", ov.outbox_backlog, ov.outbox_oldest_s > 60 ? "warn" : "", null],
    ["Replay jobs running", ov.replay_jobs_active, "", "#jobs"],
    ["Deliveries unacknowledged", ov.acks_alerted, ov.acks_alerted ? "bad" : "ok", null],
  ];
  fill("kpis", cards.map(([label, value, kind, link]) => {
    const card = h("div", { class: `kpi ${kind}`, dataset: { kpi: label } }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
    if (link) { card.style.cursor = "pointer"; card.addEventListener("click", () => { location.hash = link; }); }
    return card;
  }));
}

function renderQueues(q) {
  const src = document.getElementById("queue-source");
  src.textContent = q.source === "management" ? "management API" : q.source === "amqp" ? "AMQP fallback: no rates" : "broker unreachable";
  src.className = `badge ${q.source === "management" ? "ok" : "warn"}`;
  src.title = q.problem || "";
  const work = q.queues.filter((x) => x.role !== "retry");
  fill("queue-chart", hbars(work.map((x) => ({
    label: x.name.replace(/^hub\./, "").replace(/^custodial_unit\./, "unit."), unknown: x.ready === null,
    parts: [{ name: "ready", value: x.ready || 0, color: "#1f5fa8" }, { name: "unacked", value: x.unacked || 0, color: "#8fb3de" }],
  })), { legend: [["ready", "#1f5fa8"], ["unacknowledged", "#8fb3de"]] }));
  const rate = (v) => (v === null ? "–" : v.toFixed(1));
  fill("queue-table", table(["queue", "ready", "unacked", "consumers", "in/s", "out/s"], work.map((x) => h("tr", null,
    h("td", null, x.name), num(x.ready), num(x.unacked), num(x.consumers), num(rate(x.publish_rate)), num(rate(x.deliver_rate))))));
  fill("ladder-chart", hbars(q.ladder.map((x) => ({ label: x.name.replace(/^hub\.retry\./, "wait "), parts: [{ name: "waiting", value: x.ready || 0, color: "#c77c02" }] })), { width: 380, labelWidth: 90 }));
}

function renderConnectors(list) {
  fill("connectors", list.map((c) => {
    const circuit = c.circuit === "closed" ? badge("circuit closed", "ok") : c.circuit === "open" ? badge("circuit OPEN", "bad") : badge("circuit n/a");
    const probe = c.probe.configured === false ? "not configured" : c.probe.ok ? `ok, ${c.probe.latency_ms} ms` : `FAILED: ${c.probe.error}`;
    const consumers = c.queues.map((x) => `${x.name.replace(/^hub\./, "")}: ${x.consumers ?? "?"}`).join(", ");
    const rows = [
      ["last success", ago(c.last_success)],
      ["processed (1 h)", c.processed_1h],
      ["dead-lettered (1 h)", c.dead_lettered_1h],
      ["error rate (1 h)", `${(c.error_rate_1h * 100).toFixed(1)} %`],
      ["parked dead letters", c.parked],
      ["deferred (circuit backlog)", c.deferred],
      ["retries sent (this process)", c.retried_here],
      ["round-trip probe", probe],
    ];
    return h("div", { class: "connector", dataset: { connector: c.name } },
      h("h3", null, c.name, circuit),
      h("dl", null, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
      h("div", { class: "muted", title: "consumers per queue" }, consumers));
  }));
}

const STATE_COLORS = { dispatched: "#8fb3de", received: "#5b8fd1", validated: "#5b8fd1", impeded: "#c77c02", ready: "#1f5fa8", ready_impeded: "#c77c02", complied_released: "#2e8540", complied_not_released: "#6b7785", certified: "#1b5e2b" };

function renderAcks(acks) {
  const states = Object.entries(acks.orders_by_state);
  fill("states-chart", states.length ? hbars(states.map(([s, n]) => ({ label: s, parts: [{ name: s, value: n, color: STATE_COLORS[s] || "#1f5fa8" }] })), { width: 380, labelWidth: 150 }) : h("p", { class: "muted" }, "No orders yet."));
  const ttc = acks.time_to_compliance;
  fill("ttc-chart", vbars(ttc.buckets.map((b) => ({ label: b.label, value: b.count, color: b.low_h >= 24 ? "#b3261e" : "#2e8540" })), { width: 380 }),
    h("p", { class: "muted" }, `${ttc.count} complied · median ${ttc.p50_h === null ? "–" : ttc.p50_h.toFixed(1) + " h"} · 90th percentile ${ttc.p90_h === null ? "–" : ttc.p90_h.toFixed(1) + " h"}`));
  fill("deadline-table", table(["deadline", "open", "overdue", "met", "met late"], acks.deadlines.map((d) => h("tr", null,
    h("td", null, d.kind), num(d.open), h("td", { class: "num" }, d.overdue ? badge(d.overdue, "bad") : 0), num(d.met), num(d.met_late)))));
  fill("overdue", acks.overdue.length ? table(["subject", "deadline", "due", "late by", "state", "unit"], acks.overdue.map((o) => h("tr", { class: "clickable", onclick: () => openTimeline(o.subject) },
    h("td", null, o.subject), h("td", null, o.kind), h("td", null, fmtTime(o.due_at)), h("td", null, duration(o.late_s)), h("td", null, o.state || "–"), h("td", null, o.custodial_unit || "–")))) : h("p", { class: "muted" }, "Nothing overdue."));
}

function groupsTable(groups) {
  if (!groups.length) return h("p", { class: "muted" }, "No dead letters.");
  return table(["error", "connector", "kind", "count", "first", "last"], groups.map((g) => h("tr", {
    class: "clickable", title: "show these dead letters",
    onclick: () => { state.filter = { status: "parked", connector: g.connector, kind: g.kind || "", error: g.reason }; syncFilterForm(); location.hash = "#dead-letters"; refresh(); },
  }, h("td", null, h("strong", null, g.error_type), h("div", { class: "muted" }, g.reason)), h("td", null, g.connector), h("td", null, g.kind || "–"), num(g.count), h("td", null, fmtTime(g.first_failed_at)), h("td", null, fmtTime(g.last_failed_at)))));
}

// ------------------------------------------------------------------ dead letters

function query(filter) {
  return new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== "" && v !== null && v !== undefined)).toString();
}

function syncFilterForm() {
  const form = document.getElementById("dl-filter");
  for (const el of form.elements) if (el.name) el.value = state.filter[el.name] || (el.name === "status" ? "parked" : "");
}

async function renderDeadLetters() {
  const qs = query(state.filter);
  const [page, groups] = await Promise.all([api(`/api/dead-letters?${qs}&limit=200`), api(`/api/dead-letters/groups?${qs}`)]);
  document.getElementById("dl-count").textContent = `${page.total}`;
  fill("dl-groups", groupsTable(groups));
  const present = new Set(page.items.map((d) => d.id));
  for (const id of [...state.selected]) if (!present.has(id)) state.selected.delete(id);
  fill("dl-list", page.items.length ? h("div", { class: "scroll" }, table([state.me.role === "viewer" ? null : "", "#", "last failed", "failed queue", "kind", "order / warrant", "reason", "failures", "status"], page.items.map(letterRow), { id: "dl-table" })) : h("p", { class: "muted", id: "dl-empty" }, "No dead letters match."));
}

function letterRow(d) {
  const box = h("input", { type: "checkbox", onclick: (e) => { e.stopPropagation(); if (e.target.checked) state.selected.add(d.id); else state.selected.delete(d.id); } });
  box.checked = state.selected.has(d.id);
  const status = d.status === "parked" ? badge("parked", "bad") : d.status === "replayed" ? badge("replayed", "ok") : badge(d.status);
  return h("tr", { class: `clickable ${state.detailId === d.id ? "selected" : ""}`, dataset: { id: d.id, subject: d.correlation_id || "" }, onclick: () => showLetter(d.id) },
    state.me.role === "viewer" ? null : h("td", null, box), num(d.id), h("td", null, fmtTime(d.last_failed_at)), h("td", null, d.queue.replace(/^hub\./, "")),
    h("td", null, d.kind || "–"), h("td", null, d.correlation_id || "–"),
    h("td", null, d.reason, d.refused_code ? h("div", { class: "muted" }, `last replay refused: ${d.refused_code}`) : null),
    num(d.failures), h("td", null, status));
}

async function showLetter(id, message, revealed) {
  state.detailId = id;
  document.querySelectorAll("#dl-table tr.selected").forEach((tr) => tr.classList.remove("selected"));
  document.querySelector(`#dl-table tr[data-id="${id}"]`)?.classList.add("selected");
  const d = revealed || await api(`/api/dead-letters/${id}`);
  const canAct = state.me && state.me.role !== "viewer";
  const isAdmin = state.me && state.me.role === "admin";
  const info = [
    ["id", d.id], ["status", `${d.status}${d.status_by ? ` (by ${d.status_by})` : ""}`], ["order / warrant", d.correlation_id || "–"],
    ["kind", d.kind || "–"], ["connector", d.connector], ["failed queue", d.queue], ["message id", d.message_id || "–"],
    ["error", `${d.error_type}: ${d.reason}`], ["failures", d.failures], ["attempts", d.attempts],
    ["first failed", fmtTime(d.first_failed_at)], ["last failed", fmtTime(d.last_failed_at)], ["replays", d.replays],
  ];
  const verdict = d.verdict.allowed
    ? h("div", { class: "verdict ok", id: "dl-verdict" }, "Replay allowed: ", d.verdict.why)
    : h("div", { class: "verdict bad", id: "dl-verdict" }, `Replay would be refused (${d.verdict.code}): `, d.verdict.why);
  const body = d.body.format === "json" ? JSON.stringify(d.body.content, null, 2) : d.body.content === null ? `(${d.body.size} bytes, not a JSON message: hidden)` : d.body.content;
  const shown = d.body.masked ? badge(`only non-personal fields${d.body.hidden_fields ? `: ${d.body.hidden_fields} hidden` : ""}`, "warn") : badge("revealed (audited)", "bad");
  fill("dl-detail",
    h("h2", null, `Dead letter ${d.id}`),
    h("dl", null, info.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
    verdict,
    canAct ? actionsPanel(d, isAdmin, body) : h("p", { class: "muted", id: "dl-viewer-note" }, "Viewers cannot act on dead letters."),
    h("p", { class: "result", id: "dl-result" }, message || ""),
    h("h2", null, "Error"), h("pre", null, d.error_message || "–"),
    h("details", null, h("summary", null, "Trace"), h("pre", null, d.trace || "–")),
    h("h2", null, "Headers"), h("pre", null, JSON.stringify(shownHeaders(d.headers), null, 2)),
    h("h2", null, "Body ", shown),
    h("pre", { id: "dl-body" }, body));
}

// An admin sees a dead letter as it is only with a reason, which the audit log keeps.
async function revealLetter(id) {
  const reason = document.getElementById("dl-reason").value.trim();
  const out = document.getElementById("dl-result");
  if (reason.length < 5) { out.textContent = "Give a reason to reveal it (at least 5 characters): it goes to the audit log."; out.className = "result error"; return; }
  const res = await post(`/api/dead-letters/${id}/reveal`, { reason });
  if (res.status !== 200) { out.textContent = `Failed: ${explain(res)}`; out.className = "result error"; return; }
  await showLetter(id, "Revealed: this view is in the audit log.", res.body);
}

// The error's message and trace have their own sections; the rest of the headers is shown as is.
function shownHeaders(headers) {
  const { "x-hub-error-trace": _trace, "x-hub-error-message": _message, ...rest } = headers || {};
  return rest;
}

function actionsPanel(d, isAdmin, body) {
  const parked = d.status === "parked";
  const panel = h("div", { class: "actions" },
    h("input", { id: "dl-reason", placeholder: "reason (required, kept in the audit log)" }),
    h("div", { class: "row" },
      h("button", { id: "dl-replay", type: "button", disabled: !parked, onclick: () => act(d.id, "replay") }, "Replay"),
      parked ? h("button", { id: "dl-archive", type: "button", class: "secondary", onclick: () => act(d.id, "archive") }, "Archive") : null,
      d.status === "archived" ? h("button", { id: "dl-restore", type: "button", class: "secondary", onclick: () => act(d.id, "restore") }, "Restore") : null,
      isAdmin && d.body.masked ? h("button", { id: "dl-reveal", type: "button", class: "danger", onclick: () => revealLetter(d.id) }, "Reveal (audited)") : null));
  if (isAdmin && parked && !d.body.masked) {
    const editor = h("textarea", { id: "dl-edit-body", spellcheck: "false" });
    editor.value = d.body.format === "json" || d.body.format === "text" ? body : "";
    panel.append(h("details", null, h("summary", null, "Edit and replay (admin, second admin approves)"),
      h("p", { class: "muted" }, "Only the envelope's schema_version, occurred_at and causation_id can be repaired, and payload fields the contract does not know dropped: what the message says is its sender's. A court's signed document is never edited. The copy gets a new message id linked to this one, and runs once another admin approves it."),
      editor, h("button", { id: "dl-edit-replay", type: "button", class: "danger", onclick: () => act(d.id, "edit-replay", { body: editor.value }) }, "Ask for approval")));
  }
  return panel;
}

async function act(id, what, extra = {}) {
  const reason = document.getElementById("dl-reason").value.trim();
  const out = document.getElementById("dl-result");
  if (reason.length < 5) { out.textContent = "Give a reason (at least 5 characters): it goes to the audit log."; out.className = "result error"; return; }
  const res = await post(`/api/dead-letters/${id}/${what}`, { reason, ...extra });
  let message;
  if (res.status === 202 && res.body.action) message = `Request ${res.body.id} waits for a second admin's approval (Approvals).`;
  else if (res.status === 200 && res.body.replayed) message = `Replayed as ${res.body.message_id}.`;
  else if (res.status === 200) message = `${what === "archive" ? "Archived" : "Restored"}.`;
  else if (res.status === 409 && res.body.code) message = `Refused (${res.body.code}): ${res.body.why}`;
  else message = `Failed: ${explain(res)}`;
  await renderDeadLetters();
  await showLetter(id, message);
  document.getElementById("dl-result").className = `result ${res.status < 300 ? "" : "error"}`;
}

async function bulk(kind) {
  const reason = document.getElementById("bulk-reason").value.trim();
  const out = document.getElementById("bulk-result");
  if (reason.length < 5) { out.textContent = "Give a reason first."; return; }
  let selection;
  if (kind === "all") { const { status, ...rest } = state.filter; selection = Object.fromEntries(Object.entries(rest).filter(([, v]) => v)); }
  else selection = { ids: [...state.selected] };
  if (kind !== "all" && !selection.ids.length) { out.textContent = "Select dead letters first."; return; }
  const path = kind === "archive" ? "/api/dead-letters/archive" : "/api/replay-jobs";
  const res = await post(path, { reason, selection });
  if (res.status === 202 && res.body.approval) { out.textContent = `More dead letters than one person may replay at once: request ${res.body.approval} waits for a second admin (Approvals).`; }
  else if (res.status === 202) { out.textContent = `Replay job ${res.body.id} started: canary first.`; location.hash = "#jobs"; }
  else if (res.status === 200) { out.textContent = `Archived ${res.body.changed.length}.`; state.selected.clear(); await renderDeadLetters(); }
  else out.textContent = `Failed: ${explain(res)}`;
}

// ------------------------------------------------------------------ timeline

function openTimeline(subject) {
  location.hash = `#timeline/${encodeURIComponent(subject)}`;
}

async function renderTimeline() {
  document.getElementById("tl-subject").value = state.subject;
  if (!state.subject) { fill("tl-body", h("p", { class: "muted" }, "Enter an order or warrant number.")); return; }
  const res = await call(`/api/timeline/${encodeURIComponent(state.subject)}`);
  if (res.status === 404) { fill("tl-body", h("article", { class: "card" }, h("p", { class: "muted" }, `Nothing is known about ${state.subject}.`))); return; }
  const t = res.body;
  const row = t.order || t.warrant;
  const facts = t.order
    ? [["process", row.process_number], ["unit", row.custodial_unit || "–"], ["court", row.issuing_court], ["issued", fmtTime(row.issued_at)], ["received", fmtTime(row.received_at)], ["validated", fmtTime(row.validated_at)], ["complied", fmtTime(row.complied_at)], ["released", row.released === null ? "–" : row.released ? "yes" : "no"], ["BNMP id", row.bnmp_id || "–"], ["version", row.version]]
    : row ? [["process", row.process_number], ["species", row.species || "–"], ["valid until", row.valid_until || "–"], ["BNMP id", row.bnmp_id || "–"], ["version", row.version]] : [];
  fill("tl-body",
    h("div", { class: "grid two" },
      h("article", { class: "card" }, h("h2", null, t.order ? "Release order" : t.warrant ? "Warrant" : "Subject", " ", t.subject),
        row ? h("div", { class: "state", id: "tl-state" }, row.state) : h("p", { class: "muted" }, "No row: only events are known."),
        h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
        h("h2", null, "Deadlines"),
        table(["deadline", "started", "due", "met"], t.deadlines.map((d) => h("tr", null, h("td", null, d.kind), h("td", null, fmtTime(d.started_at)), h("td", null, fmtTime(d.due_at)),
          h("td", null, d.satisfied_at ? (new Date(d.satisfied_at) > new Date(d.due_at) ? badge(`late ${fmtTime(d.satisfied_at)}`, "bad") : fmtTime(d.satisfied_at)) : new Date(d.due_at) < Date.now() ? badge("OVERDUE", "bad") : badge("open", "warn"))))),
        h("h2", null, "Dead letters"),
        t.dead_letters.length ? table(["#", "queue", "kind", "reason", "status"], t.dead_letters.map((d) => h("tr", { class: "clickable", onclick: () => { state.filter = { status: "any", subject: t.subject }; syncFilterForm(); location.hash = "#dead-letters"; } },
          num(d.id), h("td", null, d.queue), h("td", null, d.kind || "–"), h("td", null, d.reason), h("td", null, d.status)))) : h("p", { class: "muted" }, "None.")),
      h("article", { class: "card" }, h("h2", null, "What happened"),
        h("ol", { class: "timeline", id: "tl-events" }, t.events.map((e) => {
          const action = e.detail.action || "";
          const kind = action.endsWith(".transition") ? "transition" : action.startsWith("dead_letter.parked") ? "dead" : e.source.startsWith("ops:") ? "operator" : "";
          const extra = e.detail.reason && e.source.startsWith("ops:") ? ` — “${e.detail.reason}”` : "";
          return h("li", { class: kind }, h("time", null, fmtTime(e.at)), h("strong", null, e.label), h("span", { class: "muted" }, ` · ${e.source}${extra}`));
        })))));
}

// ------------------------------------------------------------------ jobs and audit

async function renderJobs() {
  const jobs = await api("/api/replay-jobs");
  const colors = { ok: "#2e8540", failed: "#b3261e", refused: "#c77c02", unconfirmed: "#6b7785", sent: "#8fb3de", skipped: "#c3ccd6" };
  fill("jobs", jobs.length ? table(["#", "started", "by", "state", "progress", "reason", ""], jobs.map((j) => {
    const bar = h("div", { class: "progress", title: JSON.stringify(j.items) }, Object.entries(colors).map(([k, c]) => (j.items[k] ? h("span", { style: `width:${(100 * j.items[k]) / j.total}%;background:${c}` }) : null)));
    const running = j.state === "canary" || j.state === "running";
    return h("tr", { dataset: { job: j.id } }, num(j.id), h("td", null, fmtTime(j.created_at)), h("td", null, j.created_by),
      h("td", null, badge(j.state, j.state === "done" ? "ok" : j.state === "stopped" ? "bad" : "warn"), j.stop_reason ? h("div", { class: "muted" }, j.stop_reason) : null),
      h("td", null, bar, h("div", { class: "muted" }, Object.entries(j.items).map(([k, n]) => `${k} ${n}`).join(" · "), ` of ${j.total}`)),
      h("td", null, j.reason),
      h("td", null, running && state.me.role !== "viewer" ? h("button", { type: "button", class: "secondary", onclick: () => cancelJob(j.id) }, "Cancel") : null));
  })) : h("p", { class: "muted" }, "No bulk replay yet."));
}

async function cancelJob(id) {
  const reason = window.prompt("Why cancel this replay job?");
  if (!reason) return;
  const res = await post(`/api/replay-jobs/${id}/cancel`, { reason });
  if (res.status !== 200) window.alert(explain(res));
  await renderJobs();
}

async function renderApprovals() {
  if (state.me.role === "viewer") { fill("approvals", h("p", { class: "muted" }, "Viewers do not see requests.")); return; }
  const rows = await api("/api/approvals?limit=100");
  const mine = `ops:${state.me.user}`;
  fill("approvals", rows.length ? table(["#", "asked", "by", "what", "reason", "changes", "state", ""], rows.map((a) => {
    const what = a.action === "edit_replay" ? `edit and replay dead letter ${a.dead_letter_id}` : `bulk replay of ${a.count} dead letters`;
    const changes = a.changes.map((c) => `${c.path}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`).join("; ") || (a.selection ? JSON.stringify(a.selection) : "–");
    const decided = a.state === "pending" ? badge("pending", "warn") : h("span", null, badge(a.state, a.state === "approved" ? "ok" : "bad"), h("div", { class: "muted" }, `${a.decided_by || ""}: ${a.decision_reason || ""}`));
    const canDecide = state.me.role === "admin" && a.state === "pending" && a.requested_by !== mine;
    return h("tr", { dataset: { approval: a.id } }, num(a.id), h("td", null, fmtTime(a.requested_at)), h("td", null, a.requested_by, h("div", { class: "muted" }, a.requester_role)),
      h("td", null, what, a.subject ? h("div", { class: "muted" }, a.subject) : null), h("td", null, a.request_reason), h("td", { class: "muted" }, changes), h("td", null, decided),
      h("td", null, canDecide ? [h("button", { type: "button", class: "approve", onclick: () => decide(a.id, "approve") }, "Approve"), " ", h("button", { type: "button", class: "secondary reject", onclick: () => decide(a.id, "reject") }, "Reject")]
        : a.state === "pending" && a.requested_by === mine ? h("span", { class: "muted" }, "another admin decides") : null));
  })) : h("p", { class: "muted" }, "No request yet."));
}

async function decide(id, what) {
  const reason = window.prompt(what === "approve" ? "Why approve this request? (kept in the audit log)" : "Why reject this request?");
  if (!reason) return;
  const res = await post(`/api/approvals/${id}/${what}`, { reason });
  const out = document.getElementById("approvals-result");
  if (res.status !== 200) out.textContent = `Failed: ${explain(res)}`;
  else if (res.body.replay) out.textContent = res.body.replay.replayed ? `Approved: replayed as ${res.body.replay.message_id}.` : `Approved, but the replay was refused (${res.body.replay.code}): ${res.body.replay.why}`;
  else if (res.body.job) out.textContent = `Approved: replay job ${res.body.job.id} started.`;
  else out.textContent = `Request ${id} ${res.body.approval.state}.`;
  await renderApprovals();
}

async function renderAudit() {
  const rows = await api("/api/audit?limit=200");
  fill("audit", rows.length ? table(["#", "when", "who", "action", "subject", "reason", "detail"], rows.map((r) => {
    const { reason, role, ...rest } = r.detail;
    const summary = Object.entries(rest).filter(([k]) => ["id", "code", "why", "replayed_as", "job", "count", "edited_paths"].includes(k)).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ");
    return h("tr", null, num(r.seq), h("td", null, fmtTime(r.at)), h("td", null, r.actor, role ? h("div", { class: "muted" }, role) : null), h("td", null, r.action),
      h("td", null, r.subject !== "-" ? h("a", { href: `#timeline/${encodeURIComponent(r.subject)}` }, r.subject) : "–"), h("td", null, reason || "–"), h("td", { class: "muted" }, summary));
  })) : h("p", { class: "muted" }, "No operator action yet."));
}

// ------------------------------------------------------------------ session, routing, refresh

const VIEWS = { overview: renderOverview, "dead-letters": renderDeadLetters, timeline: renderTimeline, jobs: renderJobs, approvals: renderApprovals, audit: renderAudit };

async function refresh() {
  if (!state.me) return;
  if (state.busy) { state.again = true; return; } // a view asked for meanwhile is drawn next
  state.busy = true;
  state.again = false;
  try {
    await Promise.all([VIEWS[state.view](), renderBanner()]);
    document.getElementById("updated").textContent = `updated ${fmtTime(new Date().toISOString()).slice(11)}`;
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) document.getElementById("updated").textContent = `refresh failed: ${e.message}`;
  } finally {
    state.busy = false;
    if (state.again) refresh();
  }
}

function route() {
  const [view, arg] = location.hash.replace(/^#/, "").split("/");
  state.view = VIEWS[view] ? view : "overview";
  if (state.view === "timeline") state.subject = arg ? decodeURIComponent(arg) : state.subject;
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === `view-${state.view}`));
  document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("active", a.dataset.view === state.view));
  refresh();
}

function signOut(message) {
  state.me = null;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("main").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("who").textContent = "";
  document.getElementById("login-error").textContent = message || "";
}

async function signIn(token) {
  state.token = token;
  const res = await fetch("/api/me", { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) { signOut("The token was not accepted."); return; }
  state.me = await res.json();
  sessionStorage.setItem(TOKEN_KEY, token);
  document.getElementById("who").textContent = `${state.me.user} (${state.me.role})`;
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  document.body.dataset.role = state.me.role;
  route();
}

function wire() {
  document.getElementById("login-form").addEventListener("submit", (e) => { e.preventDefault(); signIn(document.getElementById("token").value.trim()); });
  document.getElementById("logout").addEventListener("click", () => signOut());
  document.getElementById("dl-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    state.filter = Object.fromEntries(new FormData(e.target).entries());
    state.selected.clear();
    renderDeadLetters();
  });
  document.getElementById("dl-clear").addEventListener("click", () => { state.filter = { status: "parked" }; syncFilterForm(); renderDeadLetters(); });
  document.getElementById("bulk-replay").addEventListener("click", () => bulk("ids"));
  document.getElementById("bulk-replay-all").addEventListener("click", () => bulk("all"));
  document.getElementById("bulk-archive").addEventListener("click", () => bulk("archive"));
  document.getElementById("tl-form").addEventListener("submit", (e) => { e.preventDefault(); openTimeline(document.getElementById("tl-subject").value.trim()); });
  window.addEventListener("hashchange", route);
  setInterval(() => {
    if (document.getElementById("auto").checked && document.visibilityState === "visible") refresh();
  }, REFRESH_MS);
  if (state.token) signIn(state.token); else signOut();
}

wire();
