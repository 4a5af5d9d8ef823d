// The filter panel: every filter of the user list (SPEC §4), grouped as the seed groups them,
// with the fixed value lists of the page's vocabulary and autocomplete from
// /v1/users/field-values.
"use strict";

import { VOCABULARY, get } from "./api.js";
import { el, field, label, select } from "./dom.js";

// kind: bool (any / yes / no), enums (several of a vocabulary list), text (comma-separated
// values; `suggest` names the field-values field), word (one value), number, date (a day,
// sent as midnight UTC).
const GROUPS = [
  ["Identity & status", [
    ["email", "Email (exact, comma-separated)", "text"],
    ["username", "Username (exact)", "text"],
    ["unique_id", "Unique ID (exact)", "text"],
    ["ids", "User IDs", "text"],
    ["statuses", "Statuses", "enums", "statuses"],
    ["is_admin", "Admin", "bool"],
    ["is_instructor", "Instructor", "bool"],
    ["is_learner", "Learner", "bool"],
    ["email_verified", "Email verified", "bool"],
    ["phone_verified", "Phone verified", "bool"],
    ["auth_method", "Auth method", "enums", "auth_methods"],
    ["has_oauth", "Has OAuth", "bool"],
    ["oauth_provider", "OAuth provider", "enums", "oauth_providers"],
    ["has_password", "Has password", "bool"],
    ["roles", "Roles", "text", "roles"],
    ["permission", "Holds permission (e.g. course.view)", "word"],
  ]],
  ["Profile & demographics", [
    ["profile_complete", "Profile complete", "bool"],
    ["has_avatar", "Has avatar", "bool"],
    ["has_bio", "Has bio", "bool"],
    ["has_location", "Has location", "bool"],
    ["city", "City", "text", "city"],
    ["state", "State", "text", "state"],
    ["continent", "Continent", "enums", "continents"],
    ["timezone", "Time zone", "text", "timezone"],
    ["locale", "Locale", "text", "locale"],
    ["gender", "Gender", "enums", "genders"],
    ["designation", "Designation", "text", "designation"],
    ["expertise", "Expertise", "text", "expertise"],
    ["age_min", "Age from", "number"],
    ["age_max", "Age to", "number"],
  ]],
  ["Activity", [
    ["created_after", "Registered on or after", "date"],
    ["created_before", "Registered before", "date"],
    ["created_in_last_days", "Registered in the last N days", "number"],
    ["last_login_after", "Last login on or after", "date"],
    ["last_login_before", "Last login before", "date"],
    ["active_in_last_days", "Active in the last N days", "number"],
    ["inactive_for_days", "Inactive for N days", "number"],
    ["is_locked", "Locked", "bool"],
    ["failed_login_attempts_min", "Failed logins from", "number"],
    ["failed_login_attempts_max", "Failed logins to", "number"],
  ]],
  ["Learning (cross-service)", [
    ["has_enrollments", "Has enrollments", "bool"],
    ["enrollment_status", "Enrollment status", "enums", "enrollment_statuses"],
    ["enrolled_program_type", "Program type", "text"],
    ["enrolled_program_ids", "Program IDs", "text"],
    ["progress_min", "Progress from (%)", "number"],
    ["progress_max", "Progress to (%)", "number"],
    ["total_time_spent_min", "Time spent at least (s)", "number"],
    ["last_learning_activity_after", "Learning activity on or after", "date"],
  ]],
];

const DATE_FILTERS = new Set(
  GROUPS.flatMap(([, filters]) => filters.filter((f) => f[2] === "date").map((f) => f[0])),
);

/// Builds the panel's inputs into `container`.
export function buildFilterPanel(container) {
  const values = VOCABULARY;
  for (const [title, filters] of GROUPS) {
    const fieldset = el("fieldset", {}, el("legend", {}, title));
    for (const [name, caption, kind, source] of filters) {
      fieldset.append(field(`f-${name}`, caption, control(name, kind, source, values)));
    }
    container.append(fieldset);
  }
  const status = document.getElementById("f-status");
  for (const value of values.statuses) status.append(el("option", { value }, label(value)));
  attachSuggestions(document.getElementById("f-country"), "country");
}

function control(name, kind, source, values) {
  switch (kind) {
    case "bool":
      return select(name, [["true", "Yes"], ["false", "No"]], { any: "Any" });
    case "enums":
      return el("select", { name, multiple: true, size: 3 },
        values[source].map((v) => el("option", { value: v }, label(v))));
    case "number":
      return el("input", { name, type: "number", min: 0, inputmode: "numeric" });
    case "date":
      return el("input", { name, type: "date" });
    case "word":
      return el("input", { name, autocomplete: "off" });
    default: {
      const input = el("input", { name, autocomplete: "off", placeholder: "comma-separated" });
      if (source) attachSuggestions(input, source);
      return input;
    }
  }
}

/// Autocomplete from /v1/users/field-values for the term being typed (the last of a
/// comma-separated list), through a `<datalist>`.
export function attachSuggestions(input, fieldName) {
  const listId = `dl-${fieldName}`;
  let list = document.getElementById(listId);
  if (!list) {
    list = el("datalist", { id: listId });
    document.body.append(list);
  }
  input.setAttribute("list", listId);
  let timer = null;
  // Only the answer to the latest request is shown (an older one may arrive after it).
  let latest = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const request = ++latest;
      const parts = input.value.split(",");
      const term = parts.pop().trim();
      const prefix = parts.length ? `${parts.join(",")},` : "";
      const params = new URLSearchParams({ field: fieldName, q: term, page_size: "10" });
      try {
        const page = await get(`/v1/users/field-values?${params}`);
        if (request !== latest) return;
        list.replaceChildren(...page.items.map((item) =>
          el("option", { value: prefix + item.value }, `${item.value} (${item.count})`)));
      } catch {
        list.replaceChildren();
      }
    }, 200);
  });
}

/// The form's filters as query parameters (empty inputs left out).
export function readFilters(form) {
  const params = new URLSearchParams();
  for (const element of form.elements) {
    if (!element.name) continue;
    let value;
    if (element.multiple) {
      value = [...element.selectedOptions].map((o) => o.value).join(",");
    } else {
      value = element.value.trim();
      if (value && DATE_FILTERS.has(element.name)) value = `${value}T00:00:00Z`;
    }
    if (value) params.set(element.name, value);
  }
  return params;
}

/// Puts query parameters back into the form (the page's URL keeps the filters).
export function fillFilters(form, params) {
  for (const element of form.elements) {
    if (!element.name || !params.has(element.name)) continue;
    const value = params.get(element.name);
    if (element.multiple) {
      const wanted = new Set(value.split(","));
      for (const option of element.options) option.selected = wanted.has(option.value);
    } else {
      element.value = DATE_FILTERS.has(element.name) ? value.slice(0, 10) : value;
    }
  }
}

/// How many of the panel's (not the quick) filters are set.
export function countPanelFilters(form) {
  const quick = new Set(["search", "status", "country"]);
  return [...readFilters(form).keys()].filter((k) => !quick.has(k)).length;
}

// Each filter's kind, from the panel's own table; the quick filters `search` and `status` are
// single texts and `country` is a list of values.
const KINDS = new Map([
  ["country", "text"],
  ...GROUPS.flatMap(([, filters]) => filters.map((f) => [f[0], f[2]])),
]);

/// Query parameters as the `UserFilters` JSON object (for a bulk delete by filter): text and
/// enum filters are lists of values, the others scalars of their kind.
export function filtersAsJson(params) {
  const out = {};
  for (const [key, value] of params) {
    const kind = KINDS.get(key);
    if (kind === "text" || kind === "enums") out[key] = value.split(",").map((v) => v.trim()).filter(Boolean);
    else if (kind === "bool") out[key] = value === "true";
    else if (kind === "number") out[key] = Number(value);
    else out[key] = value;
  }
  return out;
}
