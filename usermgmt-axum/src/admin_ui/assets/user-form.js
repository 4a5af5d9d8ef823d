// The user form shared by Create user and the Edit user tab: identity and credentials, status,
// type flags, roles, direct permissions and the profile fields.
"use strict";

import { VOCABULARY, can, get, ownPermissions } from "./api.js";
import { el, field, select } from "./dom.js";
import { attachSuggestions } from "./filters.js";

const TEXT_FIELDS = [
  ["name", "Name (required)", { autocomplete: "off" }],
  ["email", "Email", { type: "email", autocomplete: "off" }],
  ["phone", "Phone", { type: "tel", autocomplete: "off", placeholder: "+4930123456" }],
  ["username", "Username", { autocomplete: "off", placeholder: "lowercase, 3+ characters" }],
];
const PROFILE_FIELDS = [
  ["avatar_url", "Avatar URL", { type: "url" }],
  ["country", "Country (ISO code)", { maxlength: 2, suggest: "country" }],
  ["city", "City", { suggest: "city" }],
  ["state", "State", { suggest: "state" }],
  ["timezone", "Time zone", { suggest: "timezone", placeholder: "Europe/Berlin" }],
  ["locale", "Locale", { suggest: "locale", placeholder: "en-US" }],
  ["designation", "Designation", { suggest: "designation" }],
  ["expertise", "Expertise", { suggest: "expertise", placeholder: "comma-separated" }],
  ["date_of_birth", "Date of birth", { type: "date" }],
];
const FLAGS = [["is_admin", "Admin"], ["is_instructor", "Instructor"], ["is_learner", "Learner"]];
const VERIFIED = [["email_verified", "Email verified"], ["phone_verified", "Phone verified"]];

/// What the form offers: statuses and genders from the vocabulary; with role.manage, every
/// role of the tenant and the whole permission catalog (the host application's permissions
/// included), otherwise the roles users hold and the permissions the signed-in user holds
/// (nobody grants more than they hold).
export async function formChoices() {
  const manager = can("role.manage");
  const roles = manager
    ? (await get("/v1/roles")).map((r) => r.name)
    : (await get("/v1/users/field-values?field=roles&page_size=500")).items.map((r) => r.value);
  const permissions = manager
    ? (await get("/v1/permissions")).map((p) => p.permission)
    : ownPermissions();
  const { statuses, genders } = VOCABULARY;
  return { statuses, genders, permissions, roles };
}

function input(name, caption, attributes, value, prefix) {
  const { suggest, ...rest } = attributes;
  const control = el("input", { name, ...rest, value: Array.isArray(value) ? value.join(", ") : value });
  if (suggest) attachSuggestions(control, suggest);
  return field(`${prefix}-${name}`, caption, control);
}

function checkboxes(legend, name, options, checked, prefix) {
  return el("fieldset", { class: "checks" }, el("legend", {}, legend),
    options.map(([value, caption]) => {
      const id = `${prefix}-${name}-${value}`.replace(/[^a-zA-Z0-9_-]/g, "-");
      return el("span", { class: "check" },
        el("input", { type: "checkbox", id, name, value, checked: checked.includes(value) }),
        el("label", { for: id }, caption));
    }));
}

/// Fills `form` with the user form; `user` prefills it (editing) or is null (creating).
export function buildUserForm(form, choices, user, submitLabel) {
  const prefix = form.id;
  const u = user || { status: "active", roles: [], permissions: [], expertise: [] };
  form.replaceChildren(
    el("p", { class: "error", role: "alert", id: `${prefix}-summary` }),
    el("fieldset", {}, el("legend", {}, "Identity and credentials"),
      TEXT_FIELDS.map(([name, caption, attributes]) => input(name, caption, attributes, u[name], prefix)),
      field(`${prefix}-password`, user ? "New password (leave empty to keep)" : "Password (optional; without one the user must reset)",
        el("input", { name: "password", type: "password", autocomplete: "new-password" })),
      user ? el("span", { class: "check" },
        el("input", { type: "checkbox", id: `${prefix}-keep_sessions`, name: "keep_sessions" }),
        el("label", { for: `${prefix}-keep_sessions` }, "Keep the user's sessions after a password change"))
        : el("span", { class: "check" },
          el("input", { type: "checkbox", id: `${prefix}-invite`, name: "invite", dataset: { field: "invite" } }),
          el("label", { for: `${prefix}-invite` }, "Send an invitation (the user chooses their password; leave the password empty)"))),
    el("fieldset", {}, el("legend", {}, "Status and type"),
      field(`${prefix}-status`, "Status", select("status", choices.statuses, { selected: u.status })),
      checkboxes("User type (at least one)", "flags", FLAGS, FLAGS.map(([f]) => f).filter((f) => u[f]), prefix),
      checkboxes("Verification", "verified", VERIFIED, VERIFIED.map(([f]) => f).filter((f) => u[f]), prefix)),
    el("fieldset", {}, el("legend", {}, "Access"),
      checkboxes("Roles (admins and instructors need one)", "roles", choices.roles.map((r) => [r, r]), u.roles, prefix),
      checkboxes("Direct permissions", "permissions", choices.permissions.map((p) => [p, p]), u.permissions, prefix)),
    el("fieldset", {}, el("legend", {}, "Profile"),
      PROFILE_FIELDS.map(([name, caption, attributes]) => input(name, caption, attributes, u[name], prefix)),
      field(`${prefix}-gender`, "Gender", select("gender", choices.genders, { any: "Not set", selected: u.gender || "" })),
      field(`${prefix}-bio`, "Bio", el("textarea", { name: "bio", rows: 3, value: u.bio || "" }))),
    el("div", { class: "actions" }, el("button", { type: "submit" }, submitLabel),
      el("span", { id: `${prefix}-status-message`, role: "status" })),
  );
  // The API names its errors after the fields; the flags and verification boxes share a
  // fieldset, so their errors land on the first box.
  for (const [flag] of [...FLAGS, ...VERIFIED]) form.querySelector(`[value="${flag}"]`).dataset.field = flag;
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((b) => b.value);
}

/// The form's values as the API's user fields (empty text means "not set").
function values(form) {
  const data = new FormData(form);
  const out = {};
  for (const [name] of [...TEXT_FIELDS, ...PROFILE_FIELDS, ["gender"], ["bio"]]) {
    const value = String(data.get(name) || "").trim();
    if (name === "expertise") out[name] = value.split(",").map((v) => v.trim()).filter(Boolean);
    // An empty name goes to the API as it is, so its "is required" shows beside the field.
    else if (name === "name") out[name] = value;
    else out[name] = value || null;
  }
  out.status = data.get("status");
  const flags = checked(form, "flags");
  for (const [flag] of FLAGS) out[flag] = flags.includes(flag);
  const verified = checked(form, "verified");
  for (const [flag] of VERIFIED) out[flag] = verified.includes(flag);
  out.roles = checked(form, "roles");
  out.permissions = checked(form, "permissions");
  const password = String(data.get("password") || "");
  if (password) out.password = password;
  return out;
}

/// The body of POST /v1/users: every field that is set.
export function createBody(form) {
  const out = values(form);
  if (form.querySelector('[name="invite"]').checked) out.invite = true;
  for (const key of Object.keys(out)) {
    if (out[key] === null || (Array.isArray(out[key]) && out[key].length === 0 && key === "expertise")) delete out[key];
  }
  return out;
}

/// The body of PUT /v1/users/{id}: only what changed from `user`.
export function updateBody(form, user) {
  const out = {};
  for (const [key, value] of Object.entries(values(form))) {
    const before = user[key] === undefined ? null : user[key];
    const same = Array.isArray(value)
      ? JSON.stringify([...value].sort()) === JSON.stringify([...(before || [])].sort())
      : value === before;
    if (key === "password" || !same) out[key] = value;
  }
  if (out.password && form.querySelector('[name="keep_sessions"]').checked) out.keep_sessions = true;
  return out;
}
