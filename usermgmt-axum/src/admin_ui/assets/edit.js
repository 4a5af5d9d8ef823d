// A user's page (/users/{id}/edit/{tab}) with the seed's seven tabs: Overview, Edit user,
// Sessions, Impersonation, Audit logs & admin notes, Unique ID generation, Account deletion.
"use strict";

import { UI, can, get, request, startActingAs } from "./api.js";
import {
  $, clearFieldErrors, confirmAction, day, el, field, label, moment, showFieldErrors, text,
} from "./dom.js";
import { buildUserForm, formChoices, updateBody } from "./user-form.js";

// [path, caption, permission needed to use it]
const TABS = [
  ["overview", "Overview", "user.view"],
  ["edit-user", "Edit user", "user.update"],
  ["users-sessions", "Sessions", "user.view"],
  ["impersonation", "Impersonation", "user.impersonate"],
  ["audit-logs-admin-notes", "Audit logs & admin notes", "user.view"],
  ["unique-id-generation", "Unique ID generation", "user.update"],
  ["account-deletation", "Account deletion", "user.delete"],
];

const page = { user: null, etag: null };

function panel(...children) {
  $("edit-panel").replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function message(text, kind = "ok") {
  return el("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
}

async function loadUser(id) {
  const { body, etag } = await request(`/v1/users/${id}`);
  page.user = body;
  page.etag = etag;
  $("edit-title").textContent = body.name;
  $("edit-subtitle").textContent =
    [body.email, body.phone, body.username].filter(Boolean).join(" · ") + ` — ${label(body.status)}`;
  document.title = `${body.name} — usermgmt admin`;
}

/// Reloads the user and shows `tab` again, with a message on top.
async function refresh(tab, note) {
  await loadUser(page.user.id);
  await RENDER[tab]();
  if (note) $("edit-panel").prepend(message(note));
}

function definitionList(pairs) {
  return el("dl", { class: "facts" }, pairs.flatMap(([term, value]) =>
    [el("dt", {}, term), el("dd", { dataset: { field: term } }, text(value) || "—")]));
}

async function overview() {
  const u = page.user;
  const effective = await get(`/v1/users/${u.id}/permissions`).catch(() => []);
  const created = new URLSearchParams(location.search).has("created");
  panel(
    created ? message("User created.") : null,
    definitionList([
      ["Name", u.name], ["Email", u.email], ["Phone", u.phone], ["Username", u.username],
      ["Unique ID", u.unique_id], ["Status", label(u.status)],
      ["Type", ["admin", "instructor", "learner"].filter((t) => u[`is_${t}`]).join(", ")],
      ["Roles", u.roles], ["Direct permissions", u.permissions], ["Effective permissions", effective],
      ["Email verified", u.email_verified ? "yes" : "no"], ["Phone verified", u.phone_verified ? "yes" : "no"],
      ["Auth method", u.auth_method], ["OAuth providers", u.oauth_providers],
      ["Has password", u.has_password ? "yes" : "no — must reset before signing in"],
      ["Country", u.country], ["City", u.city], ["State", u.state], ["Continent", label(u.continent)],
      ["Time zone", u.timezone], ["Locale", u.locale], ["Gender", label(u.gender)],
      ["Designation", u.designation], ["Expertise", u.expertise], ["Date of birth", u.date_of_birth],
      ["Bio", u.bio], ["Profile completeness", `${u.profile_completeness} %`],
      ["Registered", moment(u.created_at)], ["Last login", moment(u.last_login_at)],
      ["Updated", moment(u.updated_at)], ["Failed logins", u.failed_login_attempts],
      ["Locked until", u.locked_until ? moment(u.locked_until) : "not locked"],
      ["Deleted", u.deleted_at ? moment(u.deleted_at) : "no"],
    ]),
  );
}

async function editUser() {
  const form = el("form", { id: "edit-form", novalidate: true });
  buildUserForm(form, await formChoices(), page.user, "Save changes");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    $("edit-form-summary").textContent = "";
    const body = updateBody(form, page.user);
    if (Object.keys(body).length === 0) {
      $("edit-form-status-message").textContent = "Nothing changed.";
      return;
    }
    try {
      await request(`/v1/users/${page.user.id}`, { method: "PUT", body, headers: { "if-match": page.etag } });
      const note = body.password && !body.keep_sessions
        ? "Saved. The password changed, so the user's sessions were ended."
        : "Saved.";
      await refresh("edit-user", note);
    } catch (error) {
      if (error.status === 412) error.message = "Someone else changed this user meanwhile: reload the page to see their change.";
      showFieldErrors(form, error, $("edit-form-summary"));
    }
  });
  panel(form);
}

function sessionState(s) {
  if (s.terminated_at) return `ended ${moment(s.terminated_at)}`;
  if (new Date(s.expires_at) < new Date()) return "expired";
  return "active";
}

async function sessions() {
  const list = await get(`/v1/users/${page.user.id}/sessions`);
  const rows = list.map((s) => {
    const where = s.location ? [s.location.city, s.location.region, s.location.country].filter(Boolean).join(", ") : "";
    const state = sessionState(s);
    const impersonated = s.impersonator_id ? `${label(s.impersonation_mode)} by ${s.impersonator_id}` : "";
    const end = state === "active" && can("user.update")
      ? el("button", {
        type: "button", class: "danger terminate-session", "aria-label": `Terminate session from ${s.ip || "unknown address"}`,
        onclick: async () => {
          await request(`/v1/users/${page.user.id}/sessions/${s.id}`, { method: "DELETE" });
          await refresh("users-sessions", "Session terminated.");
        },
      }, "Terminate")
      : null;
    return el("tr", { dataset: { session: s.id, state } },
      [s.user_agent, s.ip, where, moment(s.created_at), moment(s.last_seen_at), moment(s.expires_at), state, impersonated]
        .map((v) => el("td", {}, text(v) || "—")),
      el("td", {}, end));
  });
  // The API lists active sessions only (ended ones are in the audit log).
  const active = list.filter((s) => sessionState(s) === "active").length;
  const endAll = active > 0 && can("user.update")
    ? el("button", {
      type: "button", class: "danger", id: "terminate-all",
      onclick: async () => {
        if (!await confirmAction("End every session?", `${page.user.name} is signed out on ${active} devices.`, "End all sessions")) return;
        const { body } = await request(`/v1/users/${page.user.id}/sessions`, { method: "DELETE" });
        await refresh("users-sessions", `${body.terminated} sessions terminated.`);
      },
    }, "Terminate all sessions")
    : null;
  panel(
    el("p", {}, `${active} active sessions. `, endAll),
    el("div", { class: "table-wrap" }, el("table", { id: "session-table" },
      el("thead", {}, el("tr", {}, ["Device", "IP", "Location", "Started", "Last seen", "Expires", "State", "Impersonation", "Actions"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))),
  );
}

async function impersonation() {
  const form = el("form", { id: "impersonate-form" },
    el("fieldset", {}, el("legend", {}, "Mode"),
      el("span", { class: "check" }, el("input", { type: "radio", name: "mode", id: "mode-impersonate", value: "impersonate", checked: true }),
        el("label", { for: "mode-impersonate" }, "Impersonate — see what the user sees; every change is refused")),
      el("span", { class: "check" }, el("input", { type: "radio", name: "mode", id: "mode-masquerade", value: "masquerade" }),
        el("label", { for: "mode-masquerade" }, "Masquerade — act as the user with full access"))),
    field("impersonate-reason", "Reason (recorded in the audit log)", el("textarea", { name: "reason", rows: 2, required: true })),
    el("p", { class: "error", role: "alert", id: "impersonate-form-summary" }),
    el("button", { type: "submit" }, "Start"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const mode = data.get("mode");
    try {
      const { body } = await request(`/v1/users/${page.user.id}/impersonate`, {
        method: "POST", body: { mode, reason: String(data.get("reason") || "") },
      });
      const readOnly = mode === "impersonate";
      startActingAs(body.token, `${page.user.name} (${readOnly ? "read-only" : "full access"})`, readOnly);
      location.href = `${UI}/users`;
    } catch (error) {
      showFieldErrors(form, error, $("impersonate-form-summary"));
    }
  });
  panel(el("p", {}, `Sign in as ${page.user.name} for support. You return to your own account with the banner's button.`), form);
}

/// Names of the users who acted, for the audit log and the notes.
const names = new Map();
async function actorName(actor) {
  if (actor.kind !== "user") return "system";
  if (!names.has(actor.id)) {
    names.set(actor.id, get(`/v1/users/${actor.id}`).then((u) => u.name, () => actor.id));
  }
  return names.get(actor.id);
}

function change(field, { old, new: now }) {
  const show = (v) => (v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return el("li", {}, `${label(field)}: ${show(old)} → ${show(now)}`);
}

async function auditAndNotes(auditPage = 1) {
  const id = page.user.id;
  const audit = await get(`/v1/users/${id}/audit-logs?page=${auditPage}&page_size=20`);
  const events = await Promise.all(audit.items.map(async (e) => el("tr", {},
    el("td", {}, moment(e.created_at)), el("td", {}, await actorName(e.actor)),
    el("td", {}, e.action),
    el("td", {}, el("ul", { class: "changes" }, Object.entries(e.changes).map(([f, c]) => change(f, c)))))));
  const notes = can("user.update") ? await get(`/v1/users/${id}/notes`) : [];
  const noteItems = await Promise.all(notes.map(async (n) => el("li", { class: "note" },
    el("p", {}, n.body),
    el("small", {}, `${await actorName(n.author)}, ${moment(n.created_at)} `),
    el("button", {
      type: "button", class: "danger", "aria-label": "Delete this note",
      onclick: async () => {
        await request(`/v1/users/${id}/notes/${n.id}`, { method: "DELETE" });
        await auditAndNotes(auditPage);
      },
    }, "Delete"))));
  const noteForm = el("form", { id: "note-form" },
    field("note-body", "New note", el("textarea", { name: "body", rows: 2 })),
    el("p", { class: "error", role: "alert", id: "note-form-summary" }),
    el("button", { type: "submit" }, "Add note"));
  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await request(`/v1/users/${id}/notes`, { method: "POST", body: { body: noteForm.elements.body.value } });
      await auditAndNotes(auditPage);
    } catch (error) {
      showFieldErrors(noteForm, error, $("note-form-summary"));
    }
  });
  const more = audit.items.length === 20;
  panel(
    el("h2", {}, "Admin notes"),
    can("user.update") ? [el("ul", { class: "notes" }, noteItems), noteForm] : el("p", {}, "Notes need user.update."),
    el("h2", {}, "Audit log"),
    el("div", { class: "table-wrap" }, el("table", { id: "audit-table" },
      el("thead", {}, el("tr", {}, ["When", "Who", "What", "Changes"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, events))),
    el("nav", { class: "pager", "aria-label": "Audit pages" },
      el("button", { type: "button", disabled: auditPage <= 1, onclick: () => auditAndNotes(auditPage - 1) }, "Newer"),
      el("span", {}, `Page ${auditPage}`),
      el("button", { type: "button", disabled: !more, onclick: () => auditAndNotes(auditPage + 1) }, "Older")),
  );
}

async function uniqueId() {
  const form = el("form", { id: "unique-id-form", novalidate: true },
    field("unique-id-value", "Unique ID", Object.assign(el("input", { name: "unique_id", autocomplete: "off" }), { value: page.user.unique_id || "" })),
    el("p", { class: "error", role: "alert", id: "unique-id-form-summary" }),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, "Save"),
      el("button", { type: "button", id: "generate-unique-id" }, "Generate from the pattern")));
  const save = async (body) => {
    clearFieldErrors(form);
    try {
      await request(`/v1/users/${page.user.id}/unique-id`, { method: "PUT", body });
      await refresh("unique-id-generation", "Unique ID saved.");
    } catch (error) {
      showFieldErrors(form, error, $("unique-id-form-summary"));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save({ unique_id: form.elements.unique_id.value.trim() });
  });
  form.querySelector("#generate-unique-id").addEventListener("click", () => save({ generate: true }));
  panel(el("p", {}, `Current unique ID: ${page.user.unique_id || "none"}`), form);
}

async function deletion() {
  const u = page.user;
  if (u.status === "deleted") {
    panel(
      el("p", {}, `${u.name} was deleted on ${day(u.deleted_at)}. The data is kept; reactivating restores the account (the user signs in again).`),
      can("user.update")
        ? el("button", {
          type: "button", id: "reactivate",
          onclick: async () => {
            await request(`/v1/users/${u.id}`, { method: "PUT", body: { status: "active" }, headers: { "if-match": page.etag } });
            await refresh("account-deletation", "Reactivated.");
          },
        }, "Reactivate account")
        : el("p", {}, "Reactivating needs user.update."),
    );
    return;
  }
  panel(
    el("p", {}, "Deleting is a soft delete: the status becomes deleted, every session ends, and the data stays so the account can be reactivated."),
    el("button", {
      type: "button", class: "danger", id: "delete-user",
      onclick: async () => {
        if (!await confirmAction(`Delete ${u.name}?`, "The user is signed out everywhere and can no longer sign in.", "Delete")) return;
        try {
          await request(`/v1/users/${u.id}`, { method: "DELETE" });
          await refresh("account-deletation", "Deleted.");
        } catch (error) {
          $("edit-error").textContent = error.message;
        }
      },
    }, "Delete account"),
  );
}

const RENDER = {
  overview,
  "edit-user": editUser,
  "users-sessions": sessions,
  impersonation,
  "audit-logs-admin-notes": () => auditAndNotes(1),
  "unique-id-generation": uniqueId,
  "account-deletation": deletion,
};

export async function showEdit(userId, tab) {
  try {
    await loadUser(userId);
  } catch (error) {
    $("edit-title").textContent = "User not found";
    $("edit-error").textContent = error.message;
    return;
  }
  const allowed = TABS.filter(([, , permission]) => can(permission));
  if (!allowed.some(([path]) => path === tab)) tab = allowed.length ? allowed[0][0] : null;
  $("edit-tabs").replaceChildren(...allowed.map(([path, caption]) => el("a", {
    href: `${UI}/users/${userId}/edit/${path}`, "aria-current": path === tab ? "page" : null, dataset: { tab: path },
  }, caption)));
  if (tab === null) return;
  try {
    await RENDER[tab]();
  } catch (error) {
    $("edit-error").textContent = error.message;
  }
}
