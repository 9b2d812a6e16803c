// The dashboard: pick a patient, ask, watch the answer stream, follow its citations.
// Plain DOM, no build step and no CDN (the page must work offline). Text from the
// record is only ever set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const CITATION = /\[([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+)\]/g;
const SVG = "http://www.w3.org/2000/svg";
const state = { patient: null, thread: null, busy: false };

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setBusy(busy) {
  state.busy = busy;
  for (const id of ["ask", "overview", "new-thread", "patient"]) $(id).disabled = busy || !state.patient;
}

async function getJson(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(errorText(response.status, body));
  return body;
}

function errorText(status, body) {
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map((d) => `${d.loc.slice(-1)}: ${d.msg}`).join("; ");
  return `The server answered ${status}.`;
}

// ---- citations and sources -------------------------------------------------------------

function citeLink(reference, number, verified) {
  const link = el("a", { href: `/fhir/${reference}`, class: verified ? "cite" : "cite unverified",
    title: verified ? reference : `${reference} (not verified against the evidence)`,
    "data-reference": reference, target: "_blank", rel: "noopener" }, `[${number}]`);
  link.addEventListener("click", openResource);
  return link;
}

function renderCited(container, text, citations) {
  const verified = new Map(citations.map((c) => [c.reference, c.verified]));
  const numbers = new Map();
  container.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    container.append(text.slice(last, match.index));
    const reference = match[1];
    if (!numbers.has(reference)) numbers.set(reference, numbers.size + 1);
    container.append(citeLink(reference, numbers.get(reference), verified.get(reference) ?? true));
    last = match.index + match[0].length;
  }
  container.append(text.slice(last));
  return numbers;
}

function renderSources(numbers, lines) {
  const list = $("sources");
  list.replaceChildren();
  for (const [reference, number] of numbers) {
    const item = el("li", { value: String(number) });
    const link = el("a", { href: `/fhir/${reference}`, "data-reference": reference,
      target: "_blank", rel: "noopener" }, reference);
    link.addEventListener("click", openResource);
    item.append(link, lines.get(reference) ? ` — ${lines.get(reference)}` : "");
    list.append(item);
  }
  if (!numbers.size) list.append(el("li", {}, "No sources cited."));
}

async function openResource(event) {
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  const reference = event.currentTarget.dataset.reference;
  $("resource-title").textContent = reference;
  $("resource-raw").href = `/fhir/${reference}`;
  $("resource-body").textContent = "Loading…";
  $("resource-dialog").showModal();
  try {
    $("resource-body").textContent = JSON.stringify(await getJson(`/fhir/${reference}`), null, 2);
  } catch (error) {
    $("resource-body").textContent = String(error.message || error);
  }
}

// ---- chart -------------------------------------------------------------------------------

function renderChart(series) {
  const width = 560, height = 220, left = 48, right = 16, top = 28, bottom = 34;
  const points = series.points;
  const times = points.map((p) => Date.parse(p.date));
  const values = points.map((p) => p.value);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  let [v0, v1] = [Math.min(...values), Math.max(...values)];
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const pad = (v1 - v0) * 0.1;
  v0 -= pad; v1 += pad;
  const x = (t) => left + (t1 === t0 ? 0.5 : (t - t0) / (t1 - t0)) * (width - left - right);
  const y = (v) => top + (1 - (v - v0) / (v1 - v0)) * (height - top - bottom);

  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${series.name} over time`, "data-series": series.name });
  const title = svg("text", { x: left, y: 16 });
  title.textContent = series.unit ? `${series.name} (${series.unit})` : series.name;
  root.append(title);
  root.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  root.append(svg("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
  for (const value of [Math.min(...values), Math.max(...values)]) {
    const label = svg("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" });
    label.textContent = String(value);
    root.append(label);
  }
  for (const [index, anchor] of [[0, "start"], [points.length - 1, "end"]]) {
    const label = svg("text", { x: x(times[index]), y: height - bottom + 16, "text-anchor": anchor });
    label.textContent = points[index].date.slice(0, 10);
    root.append(label);
  }
  root.append(svg("polyline", { class: "line",
    points: points.map((p, i) => `${x(times[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ") }));
  points.forEach((p, i) => {
    const dot = svg("circle", { class: p.cited ? "point cited" : "point", r: 4.5,
      cx: x(times[i]).toFixed(1), cy: y(p.value).toFixed(1), "data-reference": p.reference });
    const tip = svg("title");
    tip.textContent = `${p.date.slice(0, 10)}: ${p.value} ${series.unit} [${p.reference}]`;
    dot.append(tip);
    dot.addEventListener("click", openResource);
    root.append(dot);
  });
  const box = el("figure", { class: "chart" });
  box.append(root);
  return box;
}

// ---- answers -----------------------------------------------------------------------------

function startResult(question) {
  showError("");
  $("result").hidden = false;
  $("asked").textContent = question;
  $("answer").textContent = "";
  $("charts").replaceChildren();
  $("sources").replaceChildren();
  $("notes").textContent = "";
  $("disclaimer").textContent = "";
}

function showAnswer(output) {
  const numbers = renderCited($("answer"), output.answer, output.citations);
  const lines = new Map(output.evidence.map((e) => [e.reference, e.line]));
  for (const c of output.citations) if (c.line) lines.set(c.reference, c.line);
  renderSources(numbers, lines);
  $("charts").replaceChildren(...(output.series || []).slice(0, 3).map(renderChart));
  $("notes").textContent = (output.notes || []).join(" ");
  $("disclaimer").textContent = output.disclaimer;
  state.thread = output.thread_id;
  const seconds = output.timings ? ` in ${output.timings.total_seconds.toFixed(1)} s` : "";
  $("status").textContent = `Answered by ${output.model}${seconds}; follow-ups continue this conversation.`;
}

function describeStep(data) {
  if (data.type === "planning") return `Planning (${data.route})…`;
  if (data.type === "tool_call") return `Looking up ${data.tool.replace(/_/g, " ")}…`;
  if (data.type === "evidence") return data.error ? `${data.tool}: ${data.error}` : `Found ${data.count} record(s).`;
  return "";
}

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields = {};
      for (const line of block.split("\n")) {
        const colon = line.indexOf(": ");
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
      }
      if (fields.event) yield { event: fields.event, data: JSON.parse(fields.data || "{}") };
    }
    if (done) return;
  }
}

async function ask(question) {
  startResult(question);
  setBusy(true);
  $("status").textContent = "Asking…";
  let attempt = 0, finished = false;
  try {
    const response = await fetch(`/patients/${encodeURIComponent(state.patient)}/ask/stream`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(state.thread ? { question, thread_id: state.thread } : { question }),
    });
    if (!response.ok) throw new Error(errorText(response.status, await response.json().catch(() => ({}))));
    for await (const { event, data } of sseEvents(response)) {
      if (event === "step") $("status").textContent = describeStep(data);
      else if (event === "token") {
        if (data.attempt !== attempt) { attempt = data.attempt; $("answer").textContent = ""; }
        $("answer").append(data.text);
      } else if (event === "done") { showAnswer(data); finished = true; }
      else if (event === "error") { showError(data.message); $("status").textContent = ""; finished = true; }
    }
    if (!finished) showError("The answer stream ended early; try again.");
  } catch (error) {
    showError(String(error.message || error));
    $("status").textContent = "";
  } finally {
    setBusy(false);
  }
}

async function overview() {
  startResult("Overview of the record");
  setBusy(true);
  $("status").textContent = "Building the overview…";
  try {
    const summary = await getJson(`/patients/${encodeURIComponent(state.patient)}/summary`);
    const citations = summary.sections.flatMap((s) => s.items.flatMap((i) => i.references))
      .map((reference) => ({ reference, verified: true }));
    const numbers = renderCited($("answer"), summary.text, citations);
    renderSources(numbers, new Map());
    $("disclaimer").textContent = "Generated from the record for information only; not for clinical decisions.";
    $("status").textContent = summary.truncated ? "Overview (shortened to fit)." : "Overview.";
  } catch (error) {
    showError(String(error.message || error));
    $("status").textContent = "";
  } finally {
    setBusy(false);
  }
}

// ---- start -------------------------------------------------------------------------------

function choosePatient(patients, id) {
  state.patient = id;
  state.thread = null;
  const chosen = patients.find((p) => p.id === id);
  $("patient-info").textContent = chosen
    ? [chosen.gender, chosen.birth_date && `born ${chosen.birth_date}`, chosen.deceased && "deceased"].filter(Boolean).join(", ")
    : "";
  $("result").hidden = true;
  $("status").textContent = "";
  setBusy(false);
}

const PICKER_PAGE = 100; // patients per picker page (the API allows up to MAX_PATIENT_PAGE)

async function start() {
  getJson("/health").then((h) => { $("service").textContent = `model ${h.model} · ${h.fhir}`; }).catch(() => {});
  // The picker shows one page of patients; the search box asks the server for names
  // starting with what is typed (GET /patients?name=), so it scales to any store.
  const select = $("patient");
  const search = el("input", { type: "search", id: "patient-search", placeholder: "Search by name", maxlength: "100", "aria-label": "Search patients by name" });
  select.before(search);
  let patients = [];
  let searchTimer = null;
  async function loadPatients() {
    try {
      // One more than shown: if it comes back, there are more than the picker lists.
      const query = new URLSearchParams({ count: String(PICKER_PAGE + 1) });
      if (search.value.trim()) query.set("name", search.value.trim());
      const found = await getJson(`/patients?${query}`);
      patients = found.slice(0, PICKER_PAGE);
      const options = patients.map((p) => el("option", { value: p.id }, `${p.name || "(no name)"} — ${p.id}`));
      if (found.length > PICKER_PAGE) options.push(el("option", { disabled: "" }, "More patients: type a name to narrow"));
      if (!patients.length) options.push(el("option", {}, search.value.trim() ? "No patient with that name" : "No patients: run `ehr-agent load`"));
      select.replaceChildren(...options);
      if (patients.length) choosePatient(patients, select.value);
      else { state.patient = null; setBusy(false); }
    } catch (error) {
      showError(`Could not list patients: ${error.message || error}`);
    }
  }
  select.addEventListener("change", () => choosePatient(patients, select.value));
  search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadPatients, 250); });
  await loadPatients();
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("question").value.trim();
    if (question && !state.busy) ask(question);
  });
  $("overview").addEventListener("click", () => { if (!state.busy) overview(); });
  $("new-thread").addEventListener("click", () => {
    state.thread = null;
    $("status").textContent = "New conversation: the next question starts fresh.";
  });
}

start();
