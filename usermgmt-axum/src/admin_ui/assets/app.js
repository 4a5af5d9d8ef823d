// The admin UI's entry point: works out the page from the address, signs in through
// POST /v1/auth/login when there is no session, and shows the page. Every page talks to the
// API's routes only; the session token lives in sessionStorage.
"use strict";

import {
  UI, actingAs, applyPermissions, forget, get, loadPermissions, request, signedIn, stopActingAs, token,
} from "./api.js";
import { $ } from "./dom.js";
import { showCreate } from "./create.js";
import { showEdit } from "./edit.js";
import { LISTS, showList } from "./list.js";
import { showRoles } from "./roles.js";
import { showStats } from "./stats.js";
import { showWebhooks } from "./webhooks.js";

/// The page the address names: `{view, list?, userId?, tab?}`.
function route() {
  const rest = location.pathname.slice(UI.length).replace(/\/+$/, "").split("/").filter(Boolean);
  const [, first, second, third] = rest; // rest[0] is "users"
  if (first === undefined || LISTS[first]) return { view: "users", page: first || "all" };
  if (["create", "roles", "stats", "webhooks"].includes(first)) return { view: first, page: first };
  if (second === "edit") return { view: "edit", page: "all", userId: first, tab: third || "overview" };
  return { view: "users", page: "all" };
}

function show(view) {
  for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.id !== view;
  $("sign-out").hidden = view === "sign-in";
}

async function start() {
  const where = route();
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === where.page) link.setAttribute("aria-current", "page");
  }
  if (!token()) {
    show("sign-in");
    $("identifier").focus();
    return;
  }
  try {
    const [, me] = await Promise.all([loadPermissions(), get("/v1/auth/me")]);
    $("whoami").textContent = me.name;
  } catch (error) {
    return;
  }
  applyPermissions();
  const acting = actingAs();
  $("impersonation-banner").hidden = !acting;
  if (acting) $("impersonation-text").textContent = `You are acting as ${acting}.`;
  show(where.view);
  try {
    if (where.view === "users") await showList(where.page);
    else if (where.view === "create") await showCreate();
    else if (where.view === "roles") await showRoles();
    else if (where.view === "stats") await showStats();
    else if (where.view === "webhooks") await showWebhooks();
    else await showEdit(where.userId, where.tab);
  } catch (error) {
    const section = document.getElementById(where.view);
    const alert = section.querySelector("[role=alert]") || section.appendChild(document.createElement("p"));
    alert.textContent = error.message;
  }
}

// A 401 from any call: the session is gone, sign in again.
document.addEventListener("signed-out", () => {
  forget();
  show("sign-in");
});

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  const body = { identifier: $("identifier").value, password: $("password").value };
  try {
    const { body: session } = await request("/v1/auth/login", { method: "POST", body });
    signedIn(session.token);
    location.reload();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    if (actingAs()) await stopActingAs();
    await request("/v1/auth/logout", { method: "POST" });
  } finally {
    forget();
    location.href = `${UI}/users`;
  }
});

$("stop-impersonation").addEventListener("click", async () => {
  await stopActingAs();
  location.href = `${UI}/users`;
});

start();
