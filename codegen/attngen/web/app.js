// attngen serve: the page. Every text from the server goes into the document as text
// (textContent), never as markup; the SVG is parsed as XML and cleaned before it is shown.
"use strict";

const state = { specs: [], id: null, view: null, tab: "source", zoom: 1, x: 0, y: 0,
                highlight: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

// -- the list ------------------------------------------------------------------------
async function loadList() {
  state.specs = await getJSON("/api/specs");
  renderList();
}

function renderList() {
  const list = $("list");
  const query = $("search").value.trim().toLowerCase();
  list.replaceChildren();
  let group = null;
  for (const spec of state.specs) {
    const hay = `${spec.name} ${spec.id} ${spec.title}`.toLowerCase();
    if (query && !hay.includes(query)) continue;
    if (spec.group !== group) {
      group = spec.group;
      list.append(el("h2", {}, group));
    }
    const link = el("a", { "data-id": spec.id, title: spec.title || spec.id }, spec.name);
    link.append(el("span", { class: "file" }, spec.id.split("/").pop()));
    if (!spec.ok) link.classList.add("bad");
    if (spec.id === state.id) link.classList.add("on");
    link.addEventListener("click", () => select(spec.id));
    list.append(link);
  }
}

async function select(id) {
  state.id = id;
  state.highlight = 0;
  state.fitted = false;  // the first diagram of a spec is fitted to the pane
  history.replaceState(null, "", `#${encodeURIComponent(id)}`);
  renderList();
  await refresh();
}

async function refresh() {
  if (state.id === null) return;
  const view = await getJSON(`/api/spec?id=${encodeURIComponent(state.id)}`);
  if (view.id !== state.id) return;  // another spec was picked meanwhile
  state.view = view;
  render();
  document.body.dataset.version = `${view.id}@${view.version}`;
  document.dispatchEvent(new CustomEvent("attngen:update", { detail: view.id }));
}

// -- one spec ------------------------------------------------------------------------
function render() {
  const v = state.view;
  $("name").textContent = v.name;
  $("title").textContent = v.title;
  const status = $("status");
  status.className = "status " + (v.ok ? "ok" : "stale");
  const warned = v.ok ? v.warnings : [];
  status.textContent = v.ok ? (warned.length ? `ok, ${warned.length} warning(s)` : "ok")
                            : (v.stale ? `${v.errors.length} error(s): diagram stale`
                                       : `${v.errors.length} error(s)`);
  renderErrors(v.errors, warned);
  const own = v.errors.find((e) => e.file === v.id && e.line);
  if (own) state.highlight = own.line;  // the spec tab shows the line an error points at
  renderDiagram(v);
  renderText();
}

function renderErrors(errors, warnings) {  // warnings: shown as errors are, marked
  const box = $("errors");
  box.replaceChildren();
  box.hidden = errors.length + warnings.length === 0;
  for (const e of [...errors, ...warnings]) {
    const item = el("div", { class: errors.includes(e) ? "err" : "err warn" });
    item.append(el("pre", {}, e.text));
    if (e.snippet) {
      const where = e.col ? `${e.line} | ${e.snippet}\n${" ".repeat(String(e.line).length)} | ${" ".repeat(Math.max(e.col - 1, 0))}^`
                          : `${e.line} | ${e.snippet}`;
      item.append(el("pre", { class: "line" }, where));
    }
    box.append(item);
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
const ALLOWED = new Set(["svg", "g", "title", "path", "polygon", "polyline", "ellipse", "text",
                         "rect", "line", "circle", "defs", "tspan"]);

function cleanSVG(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg") return null;
  for (const node of Array.from(root.querySelectorAll("*"))) {
    if (!ALLOWED.has(node.localName)) { node.remove(); continue; }
    for (const attr of Array.from(node.attributes)) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on") || name.includes("href")) node.removeAttribute(attr.name);
    }
  }
  for (const attr of Array.from(root.attributes)) {
    if (attr.name.toLowerCase().startsWith("on")) root.removeAttribute(attr.name);
  }
  return document.importNode(root, true);
}

function renderDiagram(v) {
  const box = $("diagram");
  box.classList.toggle("stale", v.stale);
  if (!v.svg) { box.replaceChildren(el("p", { class: "none" }, v.ok ? "" : "no diagram yet")); return; }
  if (box.dataset.svg === `${v.id}@${v.version}`) return;
  const svg = v.svg.trimStart().startsWith("<") ? cleanSVG(v.svg) : null;
  box.replaceChildren(svg || el("p", {}, v.svg));
  box.dataset.svg = `${v.id}@${v.version}`;
  if (!svg) return;
  for (const g of svg.querySelectorAll("g.node")) {
    const title = g.querySelector("title");
    const name = title ? title.textContent.split(".")[0] : "";
    if (v.lines[name]) {
      g.addEventListener("click", () => showLine(v.lines[name]));
      g.setAttribute("data-line", String(v.lines[name]));
    }
  }
  if (state.fitted) applyZoom(); else { fit(); state.fitted = true; }
}

function showLine(line) {
  state.highlight = line;
  setTab("spec");
  const target = $("text").querySelector(`[data-ln="${line}"]`);
  if (target) target.scrollIntoView({ block: "center", inline: "nearest" });
  $("text").scrollLeft = 0;
}

function renderText() {
  const v = state.view;
  const pre = $("text");
  pre.replaceChildren();
  if (state.tab === "spec") {
    v.text.split("\n").forEach((line, i) => {
      const row = el("span", { "data-ln": String(i + 1) });
      row.append(el("span", { class: "ln" }, String(i + 1)), document.createTextNode(line));
      if (i + 1 === state.highlight) row.className = "hl";
      pre.append(row, document.createTextNode("\n"));
    });
    return;
  }
  const texts = { source: v.source, params: v.params, terminal: v.terminal,
                  diff: v.diff || "not a variant: no `extends:`, nothing to compare" };
  pre.textContent = texts[state.tab] || (v.ok ? "" : "(the spec has errors)");
}

function setTab(tab) {
  if (tab !== state.tab) $("text").scrollTop = $("text").scrollLeft = 0;
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) {
    b.classList.toggle("on", b.dataset.tab === tab);
  }
  if (state.view) renderText();
}

// -- zoom and pan --------------------------------------------------------------------
function applyZoom() {
  const svg = $("diagram").querySelector("svg");
  if (svg) svg.style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.zoom})`;
}

function zoomBy(factor) {
  state.zoom = Math.min(8, Math.max(0.1, state.zoom * factor));
  applyZoom();
}

function fit() {
  const box = $("diagram"), svg = box.querySelector("svg");
  if (!svg) return;
  const w = svg.width.baseVal.value || 1, h = svg.height.baseVal.value || 1;
  state.zoom = Math.min(box.clientWidth / w, box.clientHeight / h, 2) * 0.95;
  state.x = (box.clientWidth - w * state.zoom) / 2; state.y = 8;
  applyZoom();
}

function setupZoom() {
  const box = $("diagram");
  box.addEventListener("wheel", (e) => { e.preventDefault(); zoomBy(e.deltaY < 0 ? 1.1 : 1 / 1.1); },
                       { passive: false });
  let drag = null;
  box.addEventListener("pointerdown", (e) => { drag = [e.clientX - state.x, e.clientY - state.y]; });
  window.addEventListener("pointerup", () => { drag = null; });
  box.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.x = e.clientX - drag[0]; state.y = e.clientY - drag[1];
    applyZoom();
  });
  $("zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => zoomBy(0.8));
  $("zoom-fit").addEventListener("click", fit);
}

// -- live updates --------------------------------------------------------------------
function listen() {
  const source = new EventSource("/api/events");
  source.onopen = () => $("conn").classList.add("live");
  source.onerror = () => $("conn").classList.remove("live");
  source.onmessage = async (e) => {
    const data = JSON.parse(e.data);
    document.body.dataset.pushed = String(Number(document.body.dataset.pushed || 0) + 1);
    await loadList();
    if (state.id !== null && data.changed.includes(state.id)) await refresh();
  };
}

window.addEventListener("DOMContentLoaded", async () => {
  $("search").addEventListener("input", renderList);
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => setTab(b.dataset.tab));
  }
  setupZoom();
  listen();
  await loadList();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (state.specs.some((s) => s.id === wanted)) await select(wanted);
});
