// The kgfuse workbench: a SPARQL editor, questions, entities and models,
// each page a client of the service's own HTTP API.
"use strict";

let prefixes = {};

/** JSON from the API, or an Error with the service's message. */
async function api(path, options) {
  const response = await fetch(path, options);
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { body = text; }
  if (!response.ok) {
    const message = body && body.error ? body.error + (body.field ? " (" + body.field + ")" : "") : text;
    throw new Error(response.status + ": " + message);
  }
  return body;
}

/** An IRI (bare or in angle brackets) as prefix:local where a prefix fits. */
function short(term) {
  const iri = String(term).replace(/^<|>$/g, "");
  for (const [name, ns] of Object.entries(prefixes)) {
    if (iri.startsWith(ns) && iri.length > ns.length) return name + ":" + iri.slice(ns.length);
  }
  return iri;
}

/** A drawing's label: the compact name, else an IRI's last segment. */
function brief(term) {
  const name = short(term);
  return name.includes("://") ? name.replace(/^.*[\/#]/, "") || name : name;
}

function cut(text, n) {
  text = String(text);
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes || {})) {
    if (k === "onclick") node.addEventListener("click", v); else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function showError(id, error) {
  document.getElementById(id).textContent = error ? error.message || String(error) : "";
}

/**
 * Draws nodes and links with d3's force layout: each distinct edge once,
 * its label at the middle on a white box, inferred edges dashed.
 * nodes: [{id, label}], links: [{source, target, label, inferred}] by id.
 */
function drawGraph(svgId, nodes, links, focus) {
  const svg = d3.select("#" + svgId);
  svg.selectAll("*").remove();
  svg.classed("shown", nodes.length > 0);
  if (!nodes.length) return;
  const width = svg.node().getBoundingClientRect().width || 900, height = 520;
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const seen = new Set();
  const edges = [];
  for (const l of links) {
    const key = l.source + " " + l.label + " " + l.target;
    if (seen.has(key) || !index.has(l.source) || !index.has(l.target)) continue;
    seen.add(key);
    edges.push({ source: index.get(l.source), target: index.get(l.target), label: l.label, inferred: l.inferred });
  }
  svg.append("defs").append("marker").attr("id", svgId + "-arrow").attr("viewBox", "0 -5 10 10")
    .attr("refX", 22).attr("markerWidth", 7).attr("markerHeight", 7).attr("orient", "auto")
    .append("path").attr("d", "M0,-5L10,0L0,5").attr("fill", "#999");
  const force = d3.layout.force().nodes(nodes).links(edges).size([width, height])
    .linkDistance(150).charge(-700).start();
  const link = svg.selectAll(".link").data(edges).enter().append("g")
    .attr("class", d => "link" + (d.inferred ? " inferred" : ""));
  link.append("line").attr("marker-end", "url(#" + svgId + "-arrow)");
  const labelBox = link.append("rect").attr("height", 14).attr("rx", 3);
  const labelText = link.append("text").text(d => cut(brief(d.label), 32));
  labelText.each(function (d) { d.width = this.getComputedTextLength() + 6; });
  labelBox.attr("width", d => d.width);
  const node = svg.selectAll(".node").data(nodes).enter().append("g")
    .attr("class", d => "node" + (d.id === focus ? " focus" : "")).call(force.drag);
  node.append("circle").attr("r", 9);
  node.append("text").attr("dx", 12).attr("dy", 4).text(d => cut(brief(d.label), 28));
  node.append("title").text(d => d.label + "\n" + d.id);
  force.on("tick", () => {
    for (const d of nodes) {
      d.x = Math.max(20, Math.min(width - 160, d.x));
      d.y = Math.max(20, Math.min(height - 20, d.y));
    }
    link.select("line").attr("x1", d => d.source.x).attr("y1", d => d.source.y)
      .attr("x2", d => d.target.x).attr("y2", d => d.target.y);
    labelBox.attr("x", d => (d.source.x + d.target.x) / 2 - d.width / 2)
      .attr("y", d => (d.source.y + d.target.y) / 2 - 10);
    labelText.attr("x", d => (d.source.x + d.target.x) / 2 - d.width / 2 + 3)
      .attr("y", d => (d.source.y + d.target.y) / 2 + 1);
    node.attr("transform", d => "translate(" + d.x + "," + d.y + ")");
  });
}

// --- SPARQL ---------------------------------------------------------------

let editor;

function prefixHeader() {
  return Object.entries(prefixes).map(([n, ns]) => "PREFIX " + n + ": <" + ns + ">").join("\n");
}

async function runQuery() {
  showError("query-error", null);
  const table = document.getElementById("query-table");
  table.textContent = "";
  const started = performance.now();
  const response = await fetch("/sparql", {
    method: "POST",
    headers: { "Content-Type": "application/sparql-query",
               "Accept": "application/sparql-results+json, application/n-triples;q=0.9" },
    body: editor.getValue(),
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch (e) { /* plain text */ }
    showError("query-error", new Error(response.status + ": " + message));
    drawGraph("query-graph", [], []);
    return;
  }
  const ms = Math.round(performance.now() - started);
  const type = response.headers.get("content-type") || "";
  let triples = [];
  if (type.startsWith("application/n-triples")) {
    triples = text.split("\n").filter(l => l.trim()).map(l => {
      const m = l.match(/^(\S+) (\S+) (.*) \.$/);
      return m ? [m[1], m[2], m[3]] : null;
    }).filter(Boolean);
    renderRows(["subject", "predicate", "object"], triples.map(t => t.map(v => ({ value: v }))));
    document.getElementById("query-info").textContent = triples.length + " triples, " + ms + " ms";
  } else {
    const json = JSON.parse(text);
    if ("boolean" in json) {
      table.append(element("p", {}, "ASK: " + json.boolean));
      document.getElementById("query-info").textContent = ms + " ms";
      return;
    }
    const vars = json.head.vars;
    const rows = json.results.bindings.map(b => vars.map(v => b[v] ? { value: termOf(b[v]) } : { value: "" }));
    renderRows(vars, rows);
    document.getElementById("query-info").textContent = rows.length + " rows, " + ms + " ms";
    if (vars.length >= 3) triples = rows.map(r => [r[0].value, r[1].value, r[2].value]);
  }
  const asGraph = document.querySelector("input[name=view]:checked").value === "graph";
  if (asGraph) {
    const nodes = new Map();
    const links = [];
    for (const [s, p, o] of triples) {
      if (!s || !o || o.startsWith('"')) continue;
      nodes.set(s, { id: s, label: short(s) });
      nodes.set(o, { id: o, label: short(o) });
      links.push({ source: s, target: o, label: short(p) });
    }
    drawGraph("query-graph", [...nodes.values()], links);
  } else {
    drawGraph("query-graph", [], []);
  }
}

function termOf(binding) {
  if (binding.type === "uri") return "<" + binding.value + ">";
  if (binding.type === "bnode") return "_:" + binding.value;
  return '"' + binding.value + '"' + (binding["xml:lang"] ? "@" + binding["xml:lang"] : "");
}

function renderRows(header, rows) {
  const table = element("table", {}, element("tr", {}, ...header.map(h => element("th", {}, h))));
  for (const row of rows.slice(0, 1000)) {
    table.append(element("tr", {}, ...row.map(c => {
      const cell = element("td", {}, short(c.value));
      if (c.value.startsWith("<")) {
        cell.style.cursor = "pointer";
        cell.title = "open the entity page";
        cell.addEventListener("click", () => openEntity(c.value.slice(1, -1)));
      }
      return cell;
    })));
  }
  document.getElementById("query-table").append(table);
}

// --- Ask ------------------------------------------------------------------

async function ask(event) {
  event.preventDefault();
  showError("ask-error", null);
  const list = document.getElementById("answers");
  list.textContent = "";
  try {
    const set = await api("/api/ask", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: document.getElementById("question").value }),
    });
    const nodes = new Map();
    const links = [];
    for (const answer of set.answers) {
      const item = element("li", {}, element("b", {}, answer.label), " (score " + answer.score.toFixed(3) + ")");
      const seenPaths = new Set();
      for (const path of answer.paths) {
        const words = [path.labels[0]];
        path.steps.forEach((step, i) => {
          const name = short(step.predicate);
          words.push(step.forward ? "—" + name + "→" : "←" + name + "—", path.labels[i + 1]);
        });
        const text = words.join(" ");
        if (seenPaths.has(text)) continue; // near-duplicates: same labels, same relations
        seenPaths.add(text);
        item.append(element("div", { class: "path" }, text + "  (weight " + path.weight.toFixed(3) + ")"),
                    element("div", { class: "path" }, element("code", {}, path.sparql)));
        const ids = path.labels.map((label, i) => (i === path.labels.length - 1 ? answer.entity : "n:" + label));
        ids.forEach((id, i) => nodes.set(id, { id, label: path.labels[i] }));
        path.steps.forEach((step, i) => {
          const [a, b] = step.forward ? [ids[i], ids[i + 1]] : [ids[i + 1], ids[i]];
          links.push({ source: a, target: b, label: short(step.predicate) });
        });
      }
      list.append(item);
    }
    if (!set.answers.length) list.append(element("li", {}, "no answer"));
    drawGraph("ask-graph", [...nodes.values()], links);
  } catch (error) {
    showError("ask-error", error);
    drawGraph("ask-graph", [], []);
  }
}

// --- Entity ---------------------------------------------------------------

function openEntity(iri) {
  location.hash = "#entity?iri=" + encodeURIComponent(iri);
}

async function showEntity(iri) {
  const box = document.getElementById("entity");
  box.textContent = "";
  showError("entity-error", null);
  drawGraph("explain-graph", [], []);
  if (!iri) return;
  document.getElementById("entity-iri").value = iri;
  try {
    const e = await api("/api/entity?iri=" + encodeURIComponent(iri));
    box.append(element("h2", {}, short(e.label)), element("div", {}, e.entity),
               element("p", {}, "classes: " + (e.classes.map(short).join(", ") || "none")));
    const attributes = element("table", {}, element("tr", {}, element("th", {}, "attribute"), element("th", {}, "value")));
    for (const a of e.attributes) attributes.append(element("tr", {}, element("td", {}, short(a.predicate)), element("td", {}, a.value)));
    box.append(attributes);
    const scores = element("ul", {});
    for (const s of e.scores) {
      scores.append(element("li", {}, s.model + ": " + short(s.predicted) + " (score " + s.score.toFixed(3) + ") ",
        element("button", { onclick: () => explain(e.entity.slice(1, -1), s.model) }, "why?")));
    }
    box.append(element("h3", {}, "Scores"), e.scores.length ? scores : element("p", {}, "no loaded model scores this entity"));
    const neighbours = element("ul", {});
    for (const n of e.neighbours) {
      const link = element("a", { href: "#" }, short(n.label));
      link.addEventListener("click", ev => { ev.preventDefault(); openEntity(n.node.replace(/^<|>$/g, "")); });
      neighbours.append(element("li", {}, n.outgoing ? short(n.predicate) + " → " : "← " + short(n.predicate) + " ", link));
    }
    box.append(element("h3", {}, "Neighbours"), neighbours);
  } catch (error) {
    showError("entity-error", error);
  }
}

/** The explanation of one score: paths as a graph, spans highlighted, derivations. */
async function explain(iri, model) {
  try {
    const x = await api("/api/explain?entity=" + encodeURIComponent(iri) + "&model=" + encodeURIComponent(model));
    const box = element("div", { id: "explanation" }, element("h3", {}, "Why " + model + " says " + short(x.claim.label || "")),
                        element("p", {}, x.method));
    const nodes = new Map([[x.entity, { id: x.entity, label: x.entity_label }]]);
    const links = [];
    for (const path of x.paths) {
      const item = element("div", { class: "path" }, "#" + path.rank + " (" + path.attribution.toFixed(3) + "): " +
        path.steps.map(s => short(s.subject_label) + " " + short(s.predicate) + " " + short(s.object_label) + (s.inferred ? " (inferred)" : "")).join(" ; "));
      box.append(item);
      for (const s of path.steps) {
        nodes.set(s.subject, { id: s.subject, label: s.subject_label });
        nodes.set(s.object, { id: s.object, label: s.object_label });
        links.push({ source: s.subject, target: s.object, label: short(s.predicate), inferred: s.inferred });
        if (s.derivation) box.append(derivation(s.derivation));
      }
    }
    for (const span of x.spans) {
      const chars = Array.from(span.text);
      box.append(element("div", { class: "path" }, span.source + ": ", chars.slice(0, span.start).join(""),
        element("mark", {}, chars.slice(span.start, span.end).join("")), chars.slice(span.end).join("")));
    }
    const old = document.getElementById("explanation");
    if (old) old.remove();
    document.getElementById("entity").append(box);
    drawGraph("explain-graph", [...nodes.values()], links, x.entity);
  } catch (error) {
    showError("entity-error", error);
  }
}

function derivation(tree) {
  const text = String(tree.triple).replace(/<([^>]+)>/g, (m, iri) => short(iri));
  const item = element("div", { class: "derivation" }, text + (tree.rule ? "  [" + tree.rule + "]" : "  [asserted]"));
  for (const premise of tree.premises || []) item.append(derivation(premise));
  return item;
}

// --- Models ---------------------------------------------------------------

async function showModels() {
  const box = document.getElementById("models");
  box.textContent = "";
  showError("models-error", null);
  try {
    const models = await api("/api/models");
    if (!models.length) box.append(element("p", {}, "no model loaded: start kgfuse serve with --model or --qa-model"));
    for (const m of models) {
      const section = element("div", { class: "model" }, element("h2", {}, m.name + " (" + m.kind + ", " + m.id + ")"));
      if (m.kind !== "question-answerer") {
        const scored = await api("/api/predict", { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify({ model: m.name }) });
        const predictions = scored.predictions.sort((a, b) => b.score - a.score);
        const top = element("table", {}, element("tr", {}, element("th", {}, "entity"), element("th", {}, "predicted"), element("th", {}, "score")));
        for (const p of predictions.slice(0, 10)) {
          const row = element("tr", {}, element("td", {}, short(p.entity)), element("td", {}, short(p.predicted)), element("td", {}, p.score.toFixed(3)));
          row.style.cursor = "pointer";
          row.addEventListener("click", () => openEntity(p.entity.replace(/^<|>$/g, "")));
          top.append(row);
        }
        section.append(element("h3", {}, "Top scored of " + predictions.length), top, histogram(predictions.map(p => p.score)));
      }
      section.append(element("h3", {}, "Metrics"), element("pre", {}, JSON.stringify(m.metrics, null, 1) || "none"));
      box.append(section);
    }
  } catch (error) {
    showError("models-error", error);
  }
}

/** Scores in ten bins of width 0.1. */
function histogram(scores) {
  const bins = new Array(10).fill(0);
  for (const s of scores) bins[Math.min(9, Math.floor(s * 10))] += 1;
  const max = Math.max(1, ...bins);
  const svg = d3.select(document.createElementNS("http://www.w3.org/2000/svg", "svg"))
    .attr("class", "hist").attr("width", 420).attr("height", 140);
  bins.forEach((n, i) => {
    const h = 110 * n / max;
    svg.append("rect").attr("x", 10 + 40 * i).attr("y", 115 - h).attr("width", 34).attr("height", h)
      .append("title").text(n + " entities scored " + (i / 10).toFixed(1) + "–" + ((i + 1) / 10).toFixed(1));
    svg.append("text").attr("x", 12 + 40 * i).attr("y", 132).attr("font-size", 10).text((i / 10).toFixed(1));
  });
  return svg.node();
}

// --- Pages ----------------------------------------------------------------

function route() {
  const [page, query] = (location.hash.slice(1) || "sparql").split("?");
  for (const section of document.querySelectorAll(".page")) section.classList.toggle("active", section.id === "page-" + page);
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === page);
  if (page === "entity") showEntity(new URLSearchParams(query || "").get("iri"));
  if (page === "models") showModels();
  if (page === "sparql" && editor) editor.refresh();
}

async function start() {
  prefixes = await api("/api/prefixes");
  const health = await api("/healthz");
  document.getElementById("status").textContent = health.quads + " quads, " + health.models + " models";
  const area = document.getElementById("query");
  area.value = prefixHeader() + "\n\nSELECT ?s ?p ?o WHERE {\n  ?s ?p ?o\n} LIMIT 25\n";
  editor = CodeMirror.fromTextArea(area, { mode: "application/sparql-query", lineNumbers: true });
  editor.setOption("extraKeys", { "Ctrl-Enter": runQuery });
  document.getElementById("run").addEventListener("click", runQuery);
  document.getElementById("ask-form").addEventListener("submit", ask);
  document.getElementById("entity-form").addEventListener("submit", ev => {
    ev.preventDefault();
    openEntity(document.getElementById("entity-iri").value);
  });
  window.addEventListener("hashchange", route);
  route();
}

start().catch(error => { document.getElementById("status").textContent = "error: " + error.message; });
