// Talking to the API: the session token (sessionStorage), JSON requests, the error model, and
// the signed-in user's effective permissions.
"use strict";

export const API = document.body.dataset.api;
export const UI = document.body.dataset.ui;
/// The fixed value lists (statuses, genders, permissions, …), put in the page by the server
/// from the library's own types.
export const VOCABULARY = JSON.parse(document.getElementById("vocabulary").textContent);

const TOKEN = "usermgmt-token";
// While impersonating, the administrator's own token waits here, with who is impersonated and
// whether read-only.
const ADMIN_TOKEN = "usermgmt-admin-token";
const ACTING_AS = "usermgmt-acting-as";
const READ_ONLY = "usermgmt-read-only";

/// An API error: the message, the HTTP status and the per-field messages of a 400.
export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.error ? body.error : {};
    super(detail.message || `request failed (${status})`);
    this.status = status;
    this.code = detail.code;
    this.fields = detail.fields || {};
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function signedIn(newToken) {
  sessionStorage.setItem(TOKEN, newToken);
}

/// Forgets the session (and any impersonation); other keys of the origin stay.
export function forget() {
  for (const key of [TOKEN, ADMIN_TOKEN, ACTING_AS, READ_ONLY]) sessionStorage.removeItem(key);
}

/// Switches to an impersonation session, keeping the administrator's token to come back to.
/// A read-only session (`readOnly`) hides every control that changes data.
export function startActingAs(impersonationToken, label, readOnly) {
  sessionStorage.setItem(ADMIN_TOKEN, token());
  sessionStorage.setItem(ACTING_AS, label);
  if (readOnly) sessionStorage.setItem(READ_ONLY, "1");
  signedIn(impersonationToken);
}

function readOnly() {
  return actingAs() !== null && sessionStorage.getItem(READ_ONLY) === "1";
}

/// The label of the impersonation in progress, if any.
export function actingAs() {
  return sessionStorage.getItem(ADMIN_TOKEN) ? sessionStorage.getItem(ACTING_AS) : null;
}

/// Ends the impersonation session and returns to the administrator's own.
export async function stopActingAs() {
  try {
    await request("/v1/auth/logout", { method: "POST" });
  } finally {
    const admin = sessionStorage.getItem(ADMIN_TOKEN);
    forget();
    if (admin) signedIn(admin);
  }
}

/// Any request to the API with the session token; JSON in and out. Rejects with an ApiError.
export async function request(path, { method = "GET", body, headers = {} } = {}) {
  const all = { ...headers };
  if (body !== undefined) all["content-type"] = "application/json";
  if (token()) all.authorization = `Bearer ${token()}`;
  const response = await fetch(`${API}${path}`, {
    method,
    headers: all,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401) document.dispatchEvent(new CustomEvent("signed-out"));
    throw error;
  }
  return { body: json, etag: response.headers.get("etag") };
}

/// GET, answering the JSON body.
export async function get(path) {
  return (await request(path)).body;
}

/// The signed-in user's effective permissions (a Set of strings), loaded once per page.
let permissions = null;
export async function loadPermissions() {
  permissions = new Set(await get("/v1/auth/me/permissions"));
  return permissions;
}

/// The signed-in user's effective permissions, sorted: what they may grant.
export function ownPermissions() {
  return permissions === null ? [] : [...permissions].sort();
}

// Permissions whose operations change data: a read-only impersonation may not use them.
const WRITES = new Set(["user.create", "user.update", "user.delete", "user.impersonate", "role.manage", "user.provision", "webhook.manage"]);

export function can(permission) {
  if (readOnly() && WRITES.has(permission)) return false;
  return permissions !== null && permissions.has(permission);
}

/// Hides every element marked `data-requires="<permission>"` that the user may not use.
export function applyPermissions(root = document) {
  for (const element of root.querySelectorAll("[data-requires]")) {
    element.hidden = !can(element.dataset.requires);
  }
}
