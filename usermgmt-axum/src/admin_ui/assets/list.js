// The user lists (all users, learners, admins, instructors): filters, sorting, pages with
// totals, selection with bulk delete, per-row delete and CSV export of the current filters.
"use strict";

import { API, UI, can, get, request, token } from "./api.js";
import { $, confirmAction, day, el, label, text } from "./dom.js";
import {
  buildFilterPanel, countPanelFilters, fillFilters, filtersAsJson, readFilters,
} from "./filters.js";

export const LISTS = {
  all: { title: "All users", filter: {} },
  learners: { title: "Learners", filter: { is_learner: "true" } },
  admins: { title: "Admins", filter: { is_admin: "true" } },
  instructors: { title: "Instructors", filter: { is_instructor: "true" } },
};

const state = {
  list: "all", page: 1, pageSize: 20, sortBy: "created_at", sortOrder: "desc",
  total: 0, selected: new Set(),
  // Keyset cursors of the pages reached so far (page number → cursor): moving between pages
  // of the same list uses them and keeps the known total, so at millions of users paging costs
  // a couple of milliseconds instead of a count.
  cursors: new Map(),
};

function types(user) {
  return ["admin", "instructor", "learner"].filter((t) => user[`is_${t}`]).join(", ");
}

/// The list's own filter plus the form's.
function filters() {
  const params = new URLSearchParams(LISTS[state.list].filter);
  for (const [key, value] of readFilters($("filters"))) params.set(key, value);
  return params;
}

function query() {
  const params = filters();
  params.set("sort_by", state.sortBy);
  params.set("sort_order", state.sortOrder);
  params.set("page_size", String(state.pageSize));
  const cursor = state.cursors.get(state.page);
  if (cursor !== undefined) {
    params.set("include_total", "false");
    if (cursor !== null) params.set("cursor", cursor);
    else params.set("page", "1");
  } else {
    params.set("page", String(state.page));
  }
  return params;
}

/// Starts the list over (new filters, sort or page size): page 1, a fresh total.
function restart() {
  state.page = 1;
  state.cursors.clear();
}

/// Keeps the filters, sorting and page in the address, so reloading or coming back from a
/// user's page shows the same list.
function remember() {
  const params = readFilters($("filters"));
  if (state.sortBy !== "created_at" || state.sortOrder !== "desc") {
    params.set("sort_by", state.sortBy);
    params.set("sort_order", state.sortOrder);
  }
  if (state.page > 1) params.set("page", String(state.page));
  if (state.pageSize !== 20) params.set("page_size", String(state.pageSize));
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
}

/// The user's picture beside the name: initials, replaced by the avatar image once (and
/// only if) it loads.
function avatar(user) {
  const initials = user.name.split(/\s+/).filter(Boolean).slice(0, 2)
    .map((word) => [...word][0].toUpperCase()).join("");
  const badge = el("span", { class: "avatar", "aria-hidden": "true" }, initials);
  if (user.avatar_url && /^https?:\/\//.test(user.avatar_url)) {
    const image = el("img", {
      class: "avatar", alt: "", hidden: true, loading: "lazy", referrerpolicy: "no-referrer",
      src: user.avatar_url,
      onload: () => { image.hidden = false; badge.remove(); },
      onerror: () => image.remove(),
    });
    return [badge, image];
  }
  return [badge];
}

function row(user) {
  const edit = `${UI}/users/${user.id}/edit`;
  const name = can("user.view")
    ? el("a", { href: `${edit}/overview` }, user.name)
    : user.name;
  const actions = el("td", { class: "row-actions" });
  if (can("user.update")) actions.append(el("a", { href: `${edit}/edit-user` }, "Edit"));
  if (can("user.delete") && user.status !== "deleted") {
    actions.append(el("button", {
      type: "button", class: "danger delete-user", "aria-label": `Delete ${user.name}`,
      onclick: () => deleteOne(user),
    }, "Delete"));
  }
  const checkbox = el("input", {
    type: "checkbox", class: "select-user", "aria-label": `Select ${user.name}`,
    checked: state.selected.has(user.id),
    onchange: (event) => {
      if (event.target.checked) state.selected.add(user.id);
      else state.selected.delete(user.id);
      updateBulk();
    },
  });
  const cells = [
    ["email", user.email], ["phone", user.phone], ["username", user.username],
    ["unique_id", user.unique_id], ["status", label(user.status)], ["type", types(user)],
    ["roles", user.roles], ["country", user.country], ["created_at", day(user.created_at)],
    ["last_login_at", day(user.last_login_at)],
  ].map(([col, value]) => el("td", { dataset: { col } }, text(value)));
  return el("tr", { dataset: { status: user.status, id: user.id } },
    el("td", { class: "select" }, checkbox),
    el("th", { scope: "row", class: "name" }, avatar(user), name), cells, actions);
}

// Completed loads, on the table body as `data-loads` (tests wait for it to grow).
let loads = 0;

export async function load() {
  $("list-error").textContent = "";
  $("user-table").setAttribute("aria-busy", "true");
  try {
    await render();
  } finally {
    $("user-table").setAttribute("aria-busy", "false");
    loads += 1;
    $("rows").dataset.loads = String(loads);
  }
}

async function render() {
  let page;
  try {
    page = await get(`/v1/users?${query()}`);
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  remember();
  if (page.total !== null && page.total !== undefined) state.total = page.total;
  state.cursors.set(1, null);
  if (page.next_cursor) state.cursors.set(state.page + 1, page.next_cursor);
  $("rows").replaceChildren(...page.items.map(row));
  const pages = Math.max(1, Math.ceil(state.total / state.pageSize));
  $("summary").textContent = `${state.total.toLocaleString("en")} ${state.total === 1 ? "user" : "users"}`;
  $("skipped").textContent = page.skipped_filters.length
    ? `Learning data unavailable; these filters were skipped: ${page.skipped_filters.join(", ")}`
    : "";
  $("page-label").textContent = `Page ${state.page} of ${pages.toLocaleString("en")}`;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = state.page >= pages;
  const count = countPanelFilters($("filters"));
  $("active-filters").textContent = count ? `(${count} set)` : "";
  $("select-page").checked = page.items.length > 0 && page.items.every((u) => state.selected.has(u.id));
  updateBulk();
}

/// Bulk delete acts on the selection, or else on every user matching the filters.
function updateBulk() {
  const button = $("bulk-delete");
  if (state.selected.size > 0) {
    button.textContent = `Delete selected (${state.selected.size})`;
    button.disabled = false;
  } else {
    const filtered = [...readFilters($("filters")).keys()].length > 0;
    button.textContent = filtered ? `Delete all matching (${state.total.toLocaleString("en")})` : "Bulk delete";
    button.disabled = !filtered || state.total === 0;
  }
}

async function bulkDelete() {
  const byIds = state.selected.size > 0;
  const count = byIds ? state.selected.size : state.total;
  const confirmed = await confirmAction(
    `Delete ${count.toLocaleString("en")} users?`,
    "They are soft-deleted: signed out everywhere, kept in the database, and can be reactivated. You are never deleted yourself.",
    `Delete ${count.toLocaleString("en")} users`,
  );
  if (!confirmed) return;
  const body = byIds ? { user_ids: [...state.selected] } : { filters: filtersAsJson(filters()) };
  try {
    const { body: outcome } = await request("/v1/users/bulk/delete", { method: "DELETE", body });
    const notes = [];
    if (outcome.skipped_self) notes.push("you were left out");
    if (outcome.skipped_protected) notes.push(`${outcome.skipped_protected} with more permissions than yours left alone`);
    $("list-status").textContent =
      `Deleted ${outcome.deleted.toLocaleString("en")} users${notes.length ? ` (${notes.join("; ")})` : ""}`;
    state.selected.clear();
    state.cursors.clear();
    await load();
  } catch (error) {
    $("list-error").textContent = error.message;
  }
}

async function deleteOne(user) {
  const confirmed = await confirmAction(`Delete ${user.name}?`,
    "The user is soft-deleted and signed out everywhere; the account can be reactivated.", "Delete");
  if (!confirmed) return;
  try {
    await request(`/v1/users/${user.id}`, { method: "DELETE" });
    $("list-status").textContent = `Deleted ${user.name}`;
    state.selected.delete(user.id);
    state.cursors.clear();
    await load();
  } catch (error) {
    $("list-error").textContent = error.message;
  }
}

/// Counts CSV records as the bytes stream in: line feeds outside quoted cells (a quote inside
/// a quoted cell is doubled, so toggling on every quote stays right).
function recordCounter() {
  let quoted = false;
  let lines = 0;
  return {
    feed(bytes) {
      for (const byte of bytes) {
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !quoted) lines += 1;
      }
    },
    // The header line is not a record.
    records: () => Math.max(0, lines - 1),
  };
}

// Every user matching the current filters, as the API streams it, saved as users.csv. The
// body is read chunk by chunk so progress shows and no copy of it is made as text.
async function exportCsv() {
  $("list-status").textContent = "Exporting…";
  const response = await fetch(`${API}/v1/users/bulk/export?${filters()}`, {
    headers: { authorization: `Bearer ${token()}` },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    $("list-status").textContent = body && body.error ? body.error.message : response.statusText;
    return;
  }
  const counter = recordCounter();
  const chunks = [];
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    counter.feed(value);
    $("list-status").textContent = `Exporting… ${counter.records().toLocaleString("en")} users`;
  }
  const blob = new Blob(chunks, { type: "text/csv" });
  const link = el("a", { href: URL.createObjectURL(blob), download: "users.csv" });
  link.click();
  URL.revokeObjectURL(link.href);
  $("list-status").textContent = `Exported ${counter.records().toLocaleString("en")} users to users.csv`;
}

export async function showList(list) {
  state.list = list;
  $("users-title").textContent = LISTS[list].title;
  document.title = `${LISTS[list].title} — usermgmt admin`;
  const params = new URLSearchParams(location.search);
  state.sortBy = params.get("sort_by") || "created_at";
  state.sortOrder = params.get("sort_order") || "desc";
  state.page = Number(params.get("page")) || 1;
  state.pageSize = Number(params.get("page_size")) || 20;
  $("page-size").value = String(state.pageSize);
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.removeAttribute("aria-sort");
    if (th.dataset.sort === state.sortBy) {
      th.setAttribute("aria-sort", state.sortOrder === "asc" ? "ascending" : "descending");
    }
  }
  buildFilterPanel($("filter-groups"));
  fillFilters($("filters"), params);
  if (countPanelFilters($("filters")) > 0) $("more-filters").open = true;
  wire();
  await load();
}

function wire() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    // The panel closes so the results show; its summary counts the filters it holds.
    $("more-filters").open = false;
    restart();
    state.selected.clear();
    load();
  });
  $("clear-filters").addEventListener("click", () => {
    $("filters").reset();
    restart();
    state.selected.clear();
    load();
  });
  // Column headers sort: a first click sorts ascending, a second flips the order.
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sortOrder = state.sortBy === key && state.sortOrder === "asc" ? "desc" : "asc";
      state.sortBy = key;
      for (const other of document.querySelectorAll("th[data-sort]")) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", state.sortOrder === "asc" ? "ascending" : "descending");
      restart();
      load();
    });
  }
  $("select-page").addEventListener("change", (event) => {
    for (const box of document.querySelectorAll("#rows .select-user")) {
      box.checked = event.target.checked;
      const id = box.closest("tr").dataset.id;
      if (box.checked) state.selected.add(id);
      else state.selected.delete(id);
    }
    updateBulk();
  });
  $("bulk-delete").addEventListener("click", bulkDelete);
  $("export").addEventListener("click", exportCsv);
  $("prev").addEventListener("click", () => { state.page -= 1; load(); });
  $("next").addEventListener("click", () => { state.page += 1; load(); });
  $("page-size").addEventListener("change", (event) => {
    state.pageSize = Number(event.target.value);
    restart();
    load();
  });
}
