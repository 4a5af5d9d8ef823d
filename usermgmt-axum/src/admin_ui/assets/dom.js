// Small DOM helpers shared by the pages: building elements, formatting values, field errors
// and the confirmation dialog.
"use strict";

export const $ = (id) => document.getElementById(id);

/// An element: `el("td", { class: "x", dataset: { id } }, "text", child, …)`. Text is always
/// set as text, never parsed as markup. `value` sets the control's value (inputs, textareas).
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(element.dataset, value);
    else if (key === "value" && tag !== "option") element.value = String(value);
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (value === true) element.setAttribute(key, "");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function text(value) {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/// `YYYY-MM-DD` of a timestamp, or "never".
export function day(value) {
  return value ? new Date(value).toISOString().slice(0, 10) : "never";
}

/// `YYYY-MM-DD HH:MM` (UTC) of a timestamp, or "—".
export function moment(value) {
  return value ? `${new Date(value).toISOString().slice(0, 16).replace("T", " ")} UTC` : "—";
}

export function label(value) {
  return text(value).replace(/_/g, " ");
}

/// Shows an ApiError's per-field messages next to the form's inputs (`name` attributes), and
/// its message in `summary`. Answers whether any field was marked.
export function showFieldErrors(form, error, summary) {
  clearFieldErrors(form);
  let marked = false;
  for (const [field, messages] of Object.entries(error.fields || {})) {
    const key = CSS.escape(field);
    // A control may stand for a field under another name (`data-field`), e.g. a checkbox.
    const input = form.querySelector(`[data-field="${key}"]`) || form.querySelector(`[name="${key}"]`);
    const message = el("p", { class: "field-error", id: `${form.id}-${field}-error` },
      `${label(field)}: ${text(messages)}`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", message.id);
      (input.closest(".field, .checks") || input).after(message);
      if (!marked) input.focus();
    } else {
      form.prepend(message);
    }
    marked = true;
  }
  if (summary) summary.textContent = error.message;
  return marked;
}

export function clearFieldErrors(form) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
  }
}

/// Asks before something destructive; resolves true when confirmed.
export function confirmAction(title, message, confirmLabel = "Confirm") {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = message;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/// A table head of column captions.
export function tableHead(captions) {
  return el("thead", {}, el("tr", {}, captions.map((h) => el("th", { scope: "col" }, h))));
}

/// A `<label>` + control pair wrapped in a `.field` div.
export function field(id, caption, control) {
  control.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, caption), control);
}

/// A `<select>` of `values` with an optional leading "any" option.
export function select(name, values, { any = null, selected = "" } = {}) {
  const options = [];
  if (any !== null) options.push(el("option", { value: "" }, any));
  for (const value of values) {
    const [v, caption] = Array.isArray(value) ? value : [value, label(value)];
    options.push(el("option", { value: v, selected: v === selected }, caption));
  }
  return el("select", { name }, options);
}
