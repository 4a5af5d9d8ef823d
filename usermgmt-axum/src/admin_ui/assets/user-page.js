// The state and helpers shared by the tabs of a user's page: the user shown (with its ETag),
// the panel the tab draws into, and redrawing a tab after a change.
"use strict";

import { request } from "./api.js";
import { $, el, label } from "./dom.js";

/// The tabs' drawing functions, by path (filled in by edit.js).
export const RENDER = {};

export const page = { user: null, etag: null };

export function panel(...children) {
  $("edit-panel").replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

export function message(text, kind = "ok") {
  return el("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
}

export async function loadUser(id) {
  const { body, etag } = await request(`/v1/users/${id}`);
  page.user = body;
  page.etag = etag;
  $("edit-title").textContent = body.name;
  $("edit-subtitle").textContent =
    [body.email, body.phone, body.username].filter(Boolean).join(" · ") + ` — ${label(body.status)}`;
  document.title = `${body.name} — usermgmt admin`;
}

/// Reloads the user and shows `tab` again, with a message on top.
export async function refresh(tab, note) {
  await loadUser(page.user.id);
  await RENDER[tab]();
  if (note) $("edit-panel").prepend(message(note));
}
