// The user page's activity tabs: Sessions (list, terminate one or all), Impersonation (start
// impersonating or masquerading) and Audit logs & admin notes.
"use strict";

import { UI, can, get, request, startActingAs } from "./api.js";
import {
  $, confirmAction, el, field, label, moment, showFieldErrors, tableHead, text,
} from "./dom.js";
import { page, panel, refresh } from "./user-page.js";

function sessionState(s) {
  if (s.terminated_at) return `ended ${moment(s.terminated_at)}`;
  if (new Date(s.expires_at) < new Date()) return "expired";
  return "active";
}

export async function sessions() {
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
      tableHead(["Device", "IP", "Location", "Started", "Last seen", "Expires", "State", "Impersonation", "Actions"]),
      el("tbody", {}, rows))),
  );
}

export async function impersonation() {
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

export async function auditAndNotes(auditPage = 1) {
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
      tableHead(["When", "Who", "What", "Changes"]),
      el("tbody", {}, events))),
    el("nav", { class: "pager", "aria-label": "Audit pages" },
      el("button", { type: "button", disabled: auditPage <= 1, onclick: () => auditAndNotes(auditPage - 1) }, "Newer"),
      el("span", {}, `Page ${auditPage}`),
      el("button", { type: "button", disabled: !more, onclick: () => auditAndNotes(auditPage + 1) }, "Older")),
  );
}
