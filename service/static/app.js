// Small page behaviour, no library: live progress, and form fields that depend on a choice.
"use strict";

function followProgress(box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const estimate = parseInt(box.dataset.estimatedRows, 10) || 0;
  async function poll() {
    let job;
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.redirected) {
        window.location.reload(); // signed out meanwhile: the page leads to the sign-in form
        return;
      }
      if (!response.ok) throw new Error(response.status);
      job = await response.json();
    } catch (error) {
      text.textContent = "Waiting for the server…";
      setTimeout(poll, 2000);
      return;
    }
    if (job.status !== "queued" && job.status !== "running") {
      bar.value = 100;
      window.location.reload();
      return;
    }
    if (job.phase === "applying") {
      // Reading is most of the work; applying is a few set-based statements.
      bar.value = 95;
      text.textContent = `${job.rows_done.toLocaleString()} rows read; saving the contacts…`;
    } else {
      if (estimate) bar.value = Math.min(90, (90 * job.rows_done) / estimate);
      else bar.removeAttribute("value");
      text.textContent = `${job.rows_done.toLocaleString()} rows read`
        + (estimate ? ` of about ${estimate.toLocaleString()}` : "");
    }
    setTimeout(poll, 400);
  }
  poll();
}

function toggleWith(select, target, showWhen) {
  const update = () => target.classList.toggle("hidden", !showWhen(select.value));
  select.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-progress-url]").forEach(followProgress);
  document.querySelectorAll("select[data-new-field]").forEach((select) => {
    toggleWith(select, document.getElementById(select.dataset.newField), (v) => v === "__new__");
  });
  document.querySelectorAll("select[data-toggles]").forEach((select) => {
    toggleWith(select, document.getElementById(select.dataset.toggles), (v) => v !== "");
  });
});

// --- Segment builder: the rule tree as nested groups and conditions, kept as JSON in a hidden
// field, with a live preview. Without JavaScript the JSON field itself can be edited.

function showWhen(control, target, test) {
  const update = () => target.classList.toggle("hidden", !test());
  control.addEventListener("change", update);
  update();
}

const GROUPS = { all: "all of these", any: "any of these", none: "none of these", notall: "not all of these" };
const NO_VALUE = ["is_empty", "is_not_empty"];
const LISTS = ["in", "not_in"];
const DAYS = ["within_last_days", "more_than_days_ago"];

function toModel(node) {
  if (node && Array.isArray(node.all)) return { group: "all", parts: node.all.map(toModel) };
  if (node && Array.isArray(node.any)) return { group: "any", parts: node.any.map(toModel) };
  if (node && node.not) {
    const inner = toModel(node.not);
    if (inner.group === "all") return { group: "notall", parts: inner.parts };
    if (inner.group === "any") return { group: "none", parts: inner.parts };
    return { group: "none", parts: [inner] };
  }
  if (node && typeof node.field === "string") return { field: node.field, op: node.op, value: node.value };
  return { group: "all", parts: [] };
}

function toRules(node) {
  if (!node.group) {
    const condition = { field: node.field, op: node.op };
    if (!NO_VALUE.includes(node.op)) condition.value = node.value;
    return condition;
  }
  const parts = node.parts.map(toRules);
  if (node.group === "all") return { all: parts };
  if (node.group === "any") return { any: parts };
  return { not: node.group === "none" ? { any: parts } : { all: parts } };
}

// The path the server names in its messages (rules.all[1].value), for each node.
function childPath(path, node, i) {
  const key = node.group === "all" || node.group === "notall" ? "all" : "any";
  return node.group === "none" || node.group === "notall" ? `${path}.not.${key}[${i}]` : `${path}.${key}[${i}]`;
}

function el(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") element.textContent = value;
    else element.setAttribute(name, value);
  }
  children.forEach((child) => element.append(child));
  return element;
}

function labelled(text, control) {
  return el("div", { class: "rule-control" }, [el("label", { for: control.id, text }), control]);
}

function ruleBuilder(root) {
  const catalog = JSON.parse(document.getElementById(root.dataset.catalog).textContent);
  const input = document.getElementById(root.dataset.input);
  const options = document.getElementById(root.dataset.options);
  const form = input.form;
  const errorBox = document.getElementById("rule-error");
  const preview = document.getElementById("live-preview");
  const kinds = Object.fromEntries(catalog.fields.map((f) => [f.name, f.kind]));
  let tree;
  try { tree = toModel(JSON.parse(input.value)); } catch (e) { tree = toModel(null); }
  if (!tree.group) tree = { group: "all", parts: [tree] };
  let uid = 0;
  let sequence = 0;
  let timer = null;

  function scalar(kind, text) {
    if (kind === "number") return text.trim() === "" || isNaN(Number(text)) ? text : Number(text);
    if (kind === "boolean") return text === "true";
    return text;
  }

  function defaultValue(kind, op) {
    if (NO_VALUE.includes(op)) return undefined;
    if (DAYS.includes(op)) return 30;
    if (LISTS.includes(op)) return [];
    if (op === "between") return ["", ""];
    if (kind === "boolean") return true;
    if (kind === "status") return "active";
    return "";
  }

  function newCondition() {
    const field = catalog.fields[0];
    const op = catalog.operators[field.kind][0];
    return { field: field.name, op, value: defaultValue(field.kind, op) };
  }

  function valueControl(node, id) {
    const kind = kinds[node.field];
    const onInput = (read) => (event) => { node.value = read(event.target); changed(false); };
    if (NO_VALUE.includes(node.op)) return [];
    if (DAYS.includes(node.op)) {
      const box = el("input", { id, type: "number", min: "0", step: "1", value: node.value ?? "" });
      box.addEventListener("input", onInput((t) => (t.value === "" ? t.value : parseInt(t.value, 10))));
      return [labelled("Days", box)];
    }
    const type = kind === "number" ? "number" : kind === "date" || kind === "timestamp" ? "date" : "text";
    if (LISTS.includes(node.op)) {
      const shown = (node.value || []).map(String).join(", ");
      const box = el("input", { id, type: "text", value: shown, placeholder: "values, separated by commas" });
      box.addEventListener("input", onInput((t) => t.value.split(",").map((v) => v.trim()).filter((v) => v)
        .map((v) => scalar(kind, v))));
      return [labelled("Values", box)];
    }
    if (node.op === "between") {
      const values = Array.isArray(node.value) ? node.value : ["", ""];
      const low = el("input", { id, type, value: values[0] ?? "" });
      const high = el("input", { id: `${id}-high`, type, value: values[1] ?? "" });
      const read = () => [scalar(kind, low.value), scalar(kind, high.value)];
      low.addEventListener("input", () => { node.value = read(); changed(false); });
      high.addEventListener("input", () => { node.value = read(); changed(false); });
      return [labelled("From", low), labelled("To", high)];
    }
    if (kind === "boolean" || kind === "status") {
      const choices = kind === "boolean" ? ["true", "false"] : catalog.statuses;
      const select = el("select", { id }, choices.map((c) => el("option", { value: c, text: c })));
      select.value = String(node.value);
      select.addEventListener("change", onInput((t) => scalar(kind, t.value)));
      return [labelled("Value", select)];
    }
    const box = el("input", { id, type, value: node.value ?? "" });
    if (type === "number") box.step = "any";
    box.addEventListener("input", onInput((t) => scalar(kind, t.value)));
    return [labelled("Value", box)];
  }

  function renderCondition(node, path, remove) {
    const n = ++uid;
    const kind = kinds[node.field];
    const field = el("select", { id: `rule-field-${n}` }, catalog.fields.map((f) => el("option", { value: f.name, text: f.label })));
    field.value = node.field;
    field.addEventListener("change", () => {
      node.field = field.value;
      const k = kinds[node.field];
      if (!catalog.operators[k].includes(node.op)) node.op = catalog.operators[k][0];
      node.value = defaultValue(k, node.op);
      changed(true);
    });
    const ops = catalog.operators[kind] || [];
    const op = el("select", { id: `rule-op-${n}` }, ops.map((o) => el("option", { value: o, text: catalog.operator_labels[o] || o })));
    op.value = node.op;
    op.addEventListener("change", () => { node.op = op.value; node.value = defaultValue(kind, node.op); changed(true); });
    const drop = el("button", { type: "button", class: "remove", text: "Remove" });
    drop.setAttribute("aria-label", "Remove this condition");
    drop.addEventListener("click", remove);
    return el("div", { class: "rule-condition", "data-path": path }, [
      labelled("Field", field),
      labelled("Test", op),
      ...valueControl(node, `rule-value-${n}`),
      drop,
    ]);
  }

  function renderGroup(node, path, remove) {
    const n = ++uid;
    const kind = el("select", { id: `rule-group-${n}` }, Object.entries(GROUPS).map(([v, t]) => el("option", { value: v, text: t })));
    kind.value = node.group;
    kind.addEventListener("change", () => { node.group = kind.value; changed(true); });
    const head = el("div", { class: "group-head" }, [el("label", { for: kind.id, text: "Contacts that match" }), kind]);
    if (remove) {
      const drop = el("button", { type: "button", class: "remove", text: "Remove group" });
      drop.addEventListener("click", remove);
      head.append(drop);
    }
    const list = el("ul", { class: "rule-parts" });
    node.parts.forEach((part, i) => {
      const removePart = () => { node.parts.splice(i, 1); changed(true); };
      const p = childPath(path, node, i);
      list.append(el("li", {}, [part.group ? renderGroup(part, p, removePart) : renderCondition(part, p, removePart)]));
    });
    const addCondition = el("button", { type: "button", text: "Add a condition" });
    addCondition.addEventListener("click", () => { node.parts.push(newCondition()); changed(true); });
    const addGroup = el("button", { type: "button", text: "Add a group" });
    addGroup.addEventListener("click", () => { node.parts.push({ group: "any", parts: [newCondition()] }); changed(true); });
    const children = [head, list];
    if (!node.parts.length) {
      // An empty "all" holds for everyone, an empty "any" for no one; "not" turns that round.
      const everyone = node.group === "all" || node.group === "none";
      children.push(el("p", { class: "hint", text: `No conditions yet: ${everyone ? "everyone" : "no one"}.` }));
    }
    children.push(el("div", { class: "group-actions" }, [addCondition, addGroup]));
    return el("div", { class: "rule-group", "data-path": path }, children);
  }

  function render() {
    uid = 0;
    root.replaceChildren(renderGroup(tree, "rules", null));
  }

  function changed(structure) {
    input.value = JSON.stringify(toRules(tree));
    if (structure) render();
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  function showError(error) {
    root.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
    errorBox.hidden = !error;
    errorBox.textContent = error ? error.message : "";
    if (!error) return;
    let best = null;
    root.querySelectorAll("[data-path]").forEach((node) => {
      const path = node.dataset.path;
      const rest = error.where.slice(path.length);
      if (error.where.startsWith(path) && (rest === "" || rest[0] === "." || rest[0] === "[")
          && (!best || path.length > best.dataset.path.length)) best = node;
    });
    if (best) best.classList.add("invalid");
  }

  async function refresh() {
    const mine = ++sequence;
    const body = { rules: JSON.parse(input.value) };
    new FormData(options).forEach((value, key) => { body[key] = value; });
    preview.dataset.state = "loading";
    let response, answer;
    try {
      response = await fetch(root.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": form.elements.csrf_token.value },
        body: JSON.stringify(body),
      });
      if (response.redirected) { window.location.reload(); return; }
      answer = await response.json();
    } catch (e) {
      if (mine === sequence) { preview.dataset.state = "error"; errorBox.hidden = false; errorBox.textContent = "The preview could not be updated; try again."; }
      return;
    }
    if (mine !== sequence) return; // a newer change is on its way
    if (answer.error) {
      showError(answer.error);
      preview.dataset.state = "error";
      return;
    }
    showError(null);
    for (const [key, value] of Object.entries(answer.preview)) {
      const cell = preview.querySelector(`[data-preview-count="${key}"]`);
      if (cell) cell.textContent = value;
    }
    preview.querySelector("[data-preview-chart]").innerHTML = answer.chart;
    preview.dataset.state = "ready";
  }

  options.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refresh, 100); });
  options.addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("rules-json-box").classList.add("hidden");
  render();
  input.value = JSON.stringify(toRules(tree));
  if (errorBox.hidden) refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-toggles-value]").forEach((select) => {
    showWhen(select, document.getElementById(select.dataset.togglesTarget), () => select.value === select.dataset.togglesValue);
  });
  document.querySelectorAll("input[data-toggles-checked]").forEach((box) => {
    const target = document.getElementById(box.dataset.togglesChecked);
    // Choices made inside stay in sight, so that a form refused for them can be corrected.
    showWhen(box, target, () => box.checked || target.querySelector("input:checked") !== null);
  });
  document.querySelectorAll("#rule-builder").forEach(ruleBuilder);
});
