// A user's page (/users/{id}/edit/{tab}) with the seed's seven tabs: Overview, Edit user,
// Sessions, Impersonation, Audit logs & admin notes, Unique ID generation, Account deletion.
// The record's tabs are here; the activity tabs are in user-activity.js.
"use strict";

import { UI, can, get, request } from "./api.js";
import {
  $, clearFieldErrors, confirmAction, day, el, field, label, moment, showFieldErrors, text,
} from "./dom.js";
import { auditAndNotes, impersonation, sessions } from "./user-activity.js";
import { buildUserForm, formChoices, updateBody } from "./user-form.js";
import { RENDER, loadUser, message, page, panel, refresh } from "./user-page.js";

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

function definitionList(pairs) {
  return el("dl", { class: "facts" }, pairs.flatMap(([term, value]) =>
    [el("dt", {}, term), el("dd", { dataset: { field: term } }, text(value) || "—")]));
}

/// The account messages an administrator can send from the overview (user.update): an
/// invitation to a user without a password, a password reset, a verification to a user with
/// something to verify.
function accountMessages(u) {
  if (!can("user.update") || u.status === "deleted") return null;
  const unverified = u.status === "pending_verification"
    || (u.email ? !u.email_verified : Boolean(u.phone) && !u.phone_verified);
  const send = (id, caption, path, done) => el("button", {
    type: "button", id,
    onclick: async () => {
      try {
        await request(`/v1/users/${u.id}/${path}`, { method: "POST" });
        await refresh("overview", done);
      } catch (error) {
        $("edit-panel").prepend(message(error.message, "error"));
      }
    },
  }, caption);
  return el("div", { class: "actions", id: "account-messages" },
    u.has_password ? null : send("send-invitation", "Send invitation", "invite", "Invitation sent."),
    send("send-password-reset", "Send password reset", "password-reset", "Password reset link sent."),
    unverified ? send("resend-verification", "Resend verification", "verification", "Verification sent.") : null);
}

async function overview() {
  const u = page.user;
  const effective = await get(`/v1/users/${u.id}/permissions`).catch(() => []);
  const created = new URLSearchParams(location.search).has("created");
  panel(
    created ? message("User created.") : null,
    accountMessages(u),
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

async function uniqueId() {
  const form = el("form", { id: "unique-id-form", novalidate: true },
    field("unique-id-value", "Unique ID", el("input", { name: "unique_id", autocomplete: "off", value: page.user.unique_id || "" })),
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

Object.assign(RENDER, {
  overview,
  "edit-user": editUser,
  "users-sessions": sessions,
  impersonation,
  "audit-logs-admin-notes": () => auditAndNotes(1),
  "unique-id-generation": uniqueId,
  "account-deletation": deletion,
});

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
