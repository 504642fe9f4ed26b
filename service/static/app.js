// Small page behaviour, no library: live progress, form fields that depend on a choice, and
// the segment builder.
"use strict";

function followProgress(box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const estimate = parseInt(box.dataset.estimatedRows, 10) || 0;
  // The page's words (its language), with the numbers written as that language writes them.
  const words = JSON.parse(text.dataset.words || "{}");
  const lang = document.documentElement.lang || undefined;
  const say = (key, values) => Object.entries(values).reduce(
    (said, [name, value]) => said.replace(`%(${name})s`, value.toLocaleString(lang)), words[key] || key);
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
      text.textContent = say("waiting", {});
      setTimeout(poll, 2000);
      return;
    }
    const badge = document.getElementById("import-status");
    if (badge && job.badge) badge.textContent = job.badge; // what it is doing: reading, applying...
    if (job.status !== "queued" && job.status !== "running") {
      bar.value = 100;
      window.location.reload();
      return;
    }
    if (job.phase === "applying") {
      // Reading is most of the work; applying is a few set-based statements.
      bar.value = 95;
      text.textContent = say("saving", { rows: job.rows_done });
    } else {
      if (estimate) bar.value = Math.min(90, (90 * job.rows_done) / estimate);
      else bar.removeAttribute("value");
      text.textContent = estimate ? say("estimate", { rows: job.rows_done, estimate })
        : say("reading", { rows: job.rows_done });
    }
    setTimeout(poll, 400);
  }
  poll();
}

// Show `target` only while `test()` holds, tested again at each change of `control`.
function showWhen(control, target, test) {
  const update = () => target.classList.toggle("hidden", !test());
  control.addEventListener("change", update);
  update();
}

// --- Segment builder: the rule tree as nested groups and conditions, kept as JSON in a hidden
// field, with a live preview. Without JavaScript the JSON field itself can be edited.
//
// A change of shape (a field, an operator, a group's kind, a part added or removed) draws the
// tree anew from its model. Every control's id is made from its node's path in the tree and
// what it is (rule-field-rules-all-1-any-0), so that after drawing, the focus goes back to the
// same control of the same node, or to the one an addition or a removal calls for. Typing a
// value only updates the model: the box stays as it is, with its caret.

// The builder's words: English here, the page's language from the catalog's `words` (startBuilder).
const WORDS = {
  all: "all of these", any: "any of these", none: "none of these", notall: "not all of these",
  days: "Days", years: "Years", values: "Values", values_hint: "values, separated by commas", from: "From", to: "To",
  value: "Value", field: "Field", test: "Test", remove: "Remove", remove_condition: "Remove this condition",
  match: "Contacts that match", remove_group: "Remove group", empty_everyone: "No conditions yet: everyone.",
  empty_no_one: "No conditions yet: no one.", add_condition: "Add a condition", add_group: "Add a group",
  true: "true", false: "false", preview_failed: "The preview could not be updated; try again.",
  no_value_yet: "Give a value: until then this condition leaves no one out.",
};
const GROUP_KINDS = ["all", "any", "none", "notall"];
const NO_VALUE = ["is_empty", "is_not_empty"];
const LISTS = ["in", "not_in"];
const DAYS = ["within_last_days", "more_than_days_ago"];
const YEARS = ["within_last_years", "more_than_years_ago"];

// The model: groups { group, parts } and conditions { field, op, value }, to and from the rules JSON.

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

// A condition still waiting for its value (a new one, say), or a group of nothing but such: it
// leaves no one out, so that adding a condition never drops the preview to 0 before it is filled in.
function incomplete(node) {
  if (node.group) return node.parts.length > 0 && node.parts.every(incomplete);
  if (NO_VALUE.includes(node.op)) return false;
  const value = node.value;
  return value === undefined || value === null || value === ""
    || (Array.isArray(value) && (value.length === 0 || value.some((v) => v === "")));
}

// What leaves a group's outcome as it is: true among "all", false among "any".
function neutral(group) {
  return group === "all" || group === "notall" ? { all: [] } : { any: [] };
}

// The rules of the tree, without the parts waiting for a value. With `keep`, those stand in as
// neutral parts, so that the paths the server names (rules.all[1]) are the paths drawn.
function rulesOf(tree, keep = false) {
  return incomplete(tree) ? { all: [] } : toRules(tree, keep);
}

function toRules(node, keep = false) {
  if (!node.group) {
    const condition = { field: node.field, op: node.op };
    if (!NO_VALUE.includes(node.op)) condition.value = node.value;
    return condition;
  }
  const counted = keep ? node.parts : node.parts.filter((part) => !incomplete(part));
  const parts = counted.map((part) => (incomplete(part) ? neutral(node.group) : toRules(part, keep)));
  if (node.group === "all") return { all: parts };
  if (node.group === "any") return { any: parts };
  return { not: node.group === "none" ? { any: parts } : { all: parts } };
}

// The tree of a rules text, always a group at the top; an unreadable text starts empty.
function treeOf(text) {
  let tree;
  try { tree = toModel(JSON.parse(text)); } catch (e) { tree = toModel(null); }
  return tree.group ? tree : { group: "all", parts: [tree] };
}

// The path the server names in its messages (rules.all[1].value), for each node.
function childPath(path, node, i) {
  const key = node.group === "all" || node.group === "notall" ? "all" : "any";
  return node.group === "none" || node.group === "notall" ? `${path}.not.${key}[${i}]` : `${path}.${key}[${i}]`;
}

// The id of a node's control: the same node and control get the same id in every drawing.
function controlId(path, control) {
  return `rule-${control}-${path.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "")}`;
}

function scalar(kind, text) {
  if (kind === "number") return text.trim() === "" || isNaN(Number(text)) ? text : Number(text);
  if (kind === "boolean") return text === "true";
  return text;
}

function defaultValue(kind, op) {
  if (NO_VALUE.includes(op)) return undefined;
  if (DAYS.includes(op)) return 30;
  if (YEARS.includes(op)) return "";
  if (LISTS.includes(op)) return [];
  if (op === "between") return ["", ""];
  if (kind === "boolean") return true;
  if (kind === "status") return "active";
  return "";
}

function newCondition(catalog) {
  const field = catalog.fields[0];
  const op = catalog.operators[field.kind][0];
  return { field: field.name, op, value: defaultValue(field.kind, op) };
}

// Elements.

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

// A drop-down of [value, text] choices with one chosen.
function choiceList(id, choices, chosen) {
  const select = el("select", { id }, choices.map(([value, text]) => el("option", { value, text })));
  select.value = chosen;
  return select;
}

function button(id, text, onClick, attributes = {}) {
  const element = el("button", { id, type: "button", text, ...attributes });
  element.addEventListener("click", onClick);
  return element;
}

// A condition's value controls, by its operator and its field's kind. Each writes into the
// node as the user types or chooses, without drawing anew.

function valueControls(builder, node, path) {
  const kind = builder.kinds[node.field];
  const id = controlId(path, "value");
  if (NO_VALUE.includes(node.op)) return [];
  if (DAYS.includes(node.op)) return [wholeBox(builder, node, id, WORDS.days)];
  if (YEARS.includes(node.op)) return [wholeBox(builder, node, id, WORDS.years)];
  if (LISTS.includes(node.op)) return [listBox(builder, node, id, kind)];
  if (node.op === "between") return rangeBoxes(builder, node, path, kind);
  if (kind === "boolean" || kind === "status") return [valueChoice(builder, node, id, kind)];
  return [valueBox(builder, node, id, kind)];
}

function inputType(kind) {
  if (kind === "number") return "number";
  return kind === "date" || kind === "timestamp" ? "date" : "text";
}

// Keep the node's value as `read` finds it in the control after each `event`.
// The row's hint that a value is missing shows while it is.
function writesValue(builder, node, control, read, event = "input") {
  control.addEventListener(event, () => {
    node.value = read();
    const hint = control.closest(".rule-condition")?.querySelector(".no-value");
    if (hint) hint.hidden = !incomplete(node);
    builder.edited();
  });
  return control;
}

// A whole number of days or years.
function wholeBox(builder, node, id, word) {
  const box = el("input", { id, type: "number", min: "0", step: "1", value: node.value ?? "" });
  writesValue(builder, node, box, () => (box.value === "" ? box.value : parseInt(box.value, 10)));
  return labelled(word, box);
}

function listBox(builder, node, id, kind) {
  const shown = (node.value || []).map(String).join(", ");
  const box = el("input", { id, type: "text", value: shown, placeholder: WORDS.values_hint });
  writesValue(builder, node, box, () => box.value.split(",").map((v) => v.trim()).filter((v) => v)
    .map((v) => scalar(kind, v)));
  return labelled(WORDS.values, box);
}

function rangeBoxes(builder, node, path, kind) {
  const values = Array.isArray(node.value) ? node.value : ["", ""];
  const type = inputType(kind);
  const low = el("input", { id: controlId(path, "value"), type, value: values[0] ?? "" });
  const high = el("input", { id: controlId(path, "value-high"), type, value: values[1] ?? "" });
  const read = () => [scalar(kind, low.value), scalar(kind, high.value)];
  return [labelled(WORDS.from, writesValue(builder, node, low, read)),
    labelled(WORDS.to, writesValue(builder, node, high, read))];
}

function valueChoice(builder, node, id, kind) {
  const choices = kind === "boolean" ? ["true", "false"] : builder.catalog.statuses;
  const shown = kind === "boolean" ? WORDS : builder.catalog.status_labels || {};
  const select = choiceList(id, choices.map((c) => [c, shown[c] || c]), String(node.value));
  writesValue(builder, node, select, () => scalar(kind, select.value), "change");
  return labelled(WORDS.value, select);
}

function valueBox(builder, node, id, kind) {
  const type = inputType(kind);
  const box = el("input", { id, type, value: node.value ?? "" });
  if (type === "number") box.step = "any";
  writesValue(builder, node, box, () => scalar(kind, box.value));
  return labelled(WORDS.value, box);
}

// A condition's row: its field, its test, its value, and a button that removes it.
function conditionRow(builder, node, path, remove) {
  const { catalog, kinds } = builder;
  const field = choiceList(controlId(path, "field"), catalog.fields.map((f) => [f.name, f.label]), node.field);
  field.addEventListener("change", () => {
    node.field = field.value;
    const kind = kinds[node.field];
    if (!catalog.operators[kind].includes(node.op)) node.op = catalog.operators[kind][0];
    node.value = defaultValue(kind, node.op);
    builder.reshaped();
  });
  const ops = catalog.operators[kinds[node.field]] || [];
  const op = choiceList(controlId(path, "op"), ops.map((o) => [o, catalog.operator_labels[o] || o]), node.op);
  op.addEventListener("change", () => {
    node.op = op.value;
    node.value = defaultValue(kinds[node.field], node.op);
    builder.reshaped();
  });
  const hint = el("p", { class: "hint no-value", text: WORDS.no_value_yet });
  hint.hidden = !incomplete(node);
  return el("div", { class: "rule-condition", "data-path": path }, [
    labelled(WORDS.field, field),
    labelled(WORDS.test, op),
    ...valueControls(builder, node, path),
    button(controlId(path, "remove"), WORDS.remove, remove, { class: "remove", "aria-label": WORDS.remove_condition }),
    hint,
  ]);
}

// A group's box: how it combines its parts, the parts, and buttons to add to them.
function groupBox(builder, node, path, remove) {
  const kind = choiceList(controlId(path, "kind"), GROUP_KINDS.map((kind) => [kind, WORDS[kind]]), node.group);
  kind.addEventListener("change", () => { node.group = kind.value; builder.reshaped(); });
  const head = el("div", { class: "group-head" }, [el("label", { for: kind.id, text: WORDS.match }), kind]);
  if (remove) head.append(button(controlId(path, "remove"), WORDS.remove_group, remove, { class: "remove" }));
  const parts = node.parts.map((part, i) => el("li", {}, [partBox(builder, node, path, i)]));
  const children = [head, el("ul", { class: "rule-parts" }, parts)];
  if (!node.parts.length) {
    // An empty "all" holds for everyone, an empty "any" for no one; "not" turns that round.
    const everyone = node.group === "all" || node.group === "none";
    children.push(el("p", { class: "hint", text: everyone ? WORDS.empty_everyone : WORDS.empty_no_one }));
  }
  const addCondition = () => addPart(builder, node, path, newCondition(builder.catalog), "field");
  const addGroup = () => addPart(builder, node, path, { group: "any", parts: [newCondition(builder.catalog)] }, "kind");
  children.push(el("div", { class: "group-actions" }, [
    button(controlId(path, "add-condition"), WORDS.add_condition, addCondition),
    button(controlId(path, "add-group"), WORDS.add_group, addGroup),
  ]));
  return el("div", { class: "rule-group", "data-path": path }, children);
}

function partBox(builder, group, path, i) {
  const part = group.parts[i];
  const remove = () => removePart(builder, group, path, i);
  const partPath = childPath(path, group, i);
  return part.group ? groupBox(builder, part, partPath, remove) : conditionRow(builder, part, partPath, remove);
}

// Add a part at the end of a group; the focus goes to the part's first control.
function addPart(builder, group, path, part, firstControl) {
  group.parts.push(part);
  builder.reshaped(controlId(childPath(path, group, group.parts.length - 1), firstControl));
}

// Remove a part; the focus goes to the remove button of the part before it, or, for the
// first part, to the group's "Add a condition".
function removePart(builder, group, path, i) {
  group.parts.splice(i, 1);
  builder.reshaped(i > 0 ? controlId(childPath(path, group, i - 1), "remove") : controlId(path, "add-condition"));
}

// Draw the tree anew and give the focus to the control with `focusId`, if there is one.
function render(builder, focusId) {
  builder.root.replaceChildren(groupBox(builder, builder.tree, "rules", null));
  const target = focusId && document.getElementById(focusId);
  if (target) target.focus();
}

// The id of the builder's control that has the focus, if one has.
function focusedId(root) {
  const active = document.activeElement;
  return active && active.id && root.contains(active) ? active.id : null;
}

// The live preview: the rules and the collapse options to the server, its counts and chart back.

function schedulePreview(builder, delay) {
  clearTimeout(builder.timer);
  builder.timer = setTimeout(() => refreshPreview(builder), delay);
}

// Show what the rules reach; of several requests on their way, only the latest is shown.
async function refreshPreview(builder) {
  const mine = ++builder.sequence;
  builder.preview.dataset.state = "loading";
  let answer;
  try {
    answer = await requestPreview(builder);
  } catch (e) {
    if (mine === builder.sequence) showPreviewFailure(builder);
    return;
  }
  if (answer === null || mine !== builder.sequence) return; // signed out, or a newer change is on its way
  if (answer.error) {
    showRuleError(builder, answer.error);
    builder.preview.dataset.state = "error";
    return;
  }
  showRuleError(builder, null);
  showCounts(builder.preview, answer);
}

// The server's answer to the rules as they are now; null when it asks to sign in again.
async function requestPreview(builder) {
  const body = { rules: rulesOf(builder.tree, true) };
  new FormData(builder.options).forEach((value, key) => { body[key] = value; });
  const response = await fetch(builder.root.dataset.previewUrl, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-CSRFToken": builder.input.form.elements.csrf_token.value,
    },
    body: JSON.stringify(body),
  });
  if (response.redirected) {
    window.location.reload(); // signed out meanwhile: the page leads to the sign-in form
    return null;
  }
  return response.json();
}

function showCounts(preview, answer) {
  for (const [key, value] of Object.entries(answer.preview)) {
    const cell = preview.querySelector(`[data-preview-count="${key}"]`);
    if (cell) cell.textContent = value;
  }
  preview.querySelector("[data-preview-chart]").innerHTML = answer.chart;
  preview.dataset.state = "ready";
}

// Errors: the server's message next to the builder, and the node it is about marked.

function showPreviewFailure(builder) {
  builder.preview.dataset.state = "error";
  builder.errorBox.hidden = false;
  builder.errorBox.textContent = WORDS.preview_failed;
}

function showRuleError(builder, error) {
  builder.root.querySelectorAll(".invalid").forEach((node) => node.classList.remove("invalid"));
  builder.errorBox.hidden = !error;
  builder.errorBox.textContent = error ? error.message : "";
  const node = error && nodeNamed(builder.root, error.where);
  if (node) node.classList.add("invalid");
}

// The deepest node whose path the error's path (rules.all[1].value) begins with.
function nodeNamed(root, where) {
  let best = null;
  root.querySelectorAll("[data-path]").forEach((node) => {
    const path = node.dataset.path;
    const rest = where.slice(path.length);
    if (where.startsWith(path) && (rest === "" || rest[0] === "." || rest[0] === "[")
        && (!best || path.length > best.dataset.path.length)) best = node;
  });
  return best;
}

// The builder on its element: the state that its parts share, and the two kinds of change.
function ruleBuilder(root) {
  const input = document.getElementById(root.dataset.input);
  const catalog = JSON.parse(document.getElementById(root.dataset.catalog).textContent);
  Object.assign(WORDS, catalog.words || {});
  const builder = {
    root,
    input,
    catalog,
    kinds: Object.fromEntries(catalog.fields.map((f) => [f.name, f.kind])),
    tree: treeOf(input.value),
    options: document.getElementById(root.dataset.options),
    errorBox: document.getElementById("rule-error"),
    preview: document.getElementById("live-preview"),
    sequence: 0,
    timer: null,
    // A value typed or chosen: the JSON and the preview follow, the controls stay as they are.
    edited() {
      input.value = JSON.stringify(rulesOf(this.tree));
      schedulePreview(this, 250);
    },
    // A change of shape: drawn anew, the focus on `focusId` (by default where it was).
    reshaped(focusId = focusedId(root)) {
      input.value = JSON.stringify(rulesOf(this.tree));
      render(this, focusId);
      schedulePreview(this, 250);
    },
  };
  builder.options.addEventListener("change", () => schedulePreview(builder, 100));
  builder.options.addEventListener("submit", (event) => event.preventDefault());
  document.getElementById("rules-json-box").classList.add("hidden");
  render(builder, null);
  input.value = JSON.stringify(rulesOf(builder.tree));
  if (builder.errorBox.hidden) refreshPreview(builder);
}

// The mailing form's live preview: its choices (lists for the check boxes) to the server, whenever
// one changes; the counts and chart back, or why it cannot be counted yet.
function mailingPreview(form) {
  const preview = document.getElementById("live-preview");
  const problem = document.getElementById("mailing-preview-error");
  const state = { sequence: 0, timer: null };
  async function refresh() {
    const mine = ++state.sequence;
    const body = {};
    new FormData(form).forEach((value, key) => {
      if (key === "csrf_token" || key === "name") return;
      (body[key] = body[key] || []).push(value);
    });
    preview.dataset.state = "loading";
    let answer;
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json",
                   "X-CSRFToken": form.elements.csrf_token.value },
        body: JSON.stringify(body),
      });
      if (response.redirected) { window.location.reload(); return; }
      answer = await response.json();
    } catch (e) {
      answer = { error: { message: preview.dataset.failed } };
    }
    if (mine !== state.sequence) return; // a newer change is on its way
    problem.hidden = !answer.error;
    problem.textContent = answer.error ? answer.error.message : "";
    if (answer.error) {
      preview.querySelectorAll("[data-preview-count]").forEach((cell) => { cell.textContent = "–"; });
      preview.querySelector("[data-preview-chart]").innerHTML = "";
      preview.dataset.state = "error";
      return;
    }
    showCounts(preview, answer);
  }
  form.addEventListener("change", () => {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, 150);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-progress-url]").forEach(followProgress);
  document.querySelectorAll("form[data-preview-url]").forEach(mailingPreview);
  document.querySelectorAll("select[data-new-field]").forEach((select) => {
    showWhen(select, document.getElementById(select.dataset.newField), () => select.value === "__new__");
  });
  document.querySelectorAll("select[data-toggles]").forEach((select) => {
    showWhen(select, document.getElementById(select.dataset.toggles), () => select.value !== "");
  });
  // A link's option names the column that fits it (its IDs, or its last import's ID column).
  document.querySelectorAll("select[data-id-column-select]").forEach((select) => {
    const columns = document.getElementById(select.dataset.idColumnSelect);
    select.addEventListener("change", () => {
      const fitting = select.selectedOptions[0]?.dataset.idColumn;
      if (fitting) columns.value = fitting;
    });
  });
  document.querySelectorAll("select[data-toggles-value]").forEach((select) => {
    showWhen(select, document.getElementById(select.dataset.togglesTarget), () => select.value === select.dataset.togglesValue);
  });
  document.querySelectorAll("input[data-toggles-checked]").forEach((box) => {
    const target = document.getElementById(box.dataset.togglesChecked);
    // Choices made inside stay in sight, so that a form refused for them can be corrected.
    showWhen(box, target, () => box.checked || target.querySelector("input:checked") !== null);
  });
  document.querySelectorAll("#rule-builder").forEach(ruleBuilder);
  // A choice of language applies at once; the form's button is there for pages without script.
  document.querySelectorAll("select[data-submits]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
    select.form.querySelectorAll("button").forEach((button) => { button.hidden = true; });
  });
});
