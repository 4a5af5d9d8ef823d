// The admin user list: signs in through POST /v1/auth/login and reads GET /v1/users with the
// filters of the form. Uses only the API's routes; the session token lives in sessionStorage.
"use strict";

const API = document.body.dataset.api;
const UI = document.body.dataset.ui;
const PAGE_SIZE = 20;
const LISTS = {
  all: { title: "All users", filter: {} },
  learners: { title: "Learners", filter: { is_learner: "true" } },
  admins: { title: "Admins", filter: { is_admin: "true" } },
  instructors: { title: "Instructors", filter: { is_instructor: "true" } },
};

const $ = (id) => document.getElementById(id);
const state = { page: 1, total: 0, sortBy: "created_at", sortOrder: "desc" };

function currentList() {
  const last = location.pathname.replace(/\/+$/, "").split("/").pop();
  return LISTS[last] ? last : "all";
}

function token() {
  return sessionStorage.getItem("usermgmt-token");
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json" };
  if (token()) headers.authorization = `Bearer ${token()}`;
  const response = await fetch(`${API}${path}`, { ...options, headers });
  const body = response.status === 204 ? null : await response.json();
  if (response.status === 401) {
    sessionStorage.removeItem("usermgmt-token");
    show("sign-in");
  }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(message);
  }
  return body;
}

function show(section) {
  $("sign-in").hidden = section !== "sign-in";
  $("users").hidden = section !== "users";
  $("sign-out").hidden = section === "sign-in";
}

function text(value) {
  return value === null || value === undefined ? "" : String(value);
}

function date(value) {
  return value ? new Date(value).toISOString().slice(0, 10) : "never";
}

function types(user) {
  return ["admin", "instructor", "learner"].filter((t) => user[`is_${t}`]).join(", ");
}

// The list's and the form's filters.
function filters() {
  const params = new URLSearchParams(LISTS[currentList()].filter);
  const form = new FormData($("filters"));
  for (const [key, value] of form.entries()) {
    if (String(value).trim() !== "") params.set(key, String(value).trim());
  }
  return params;
}

function query() {
  const params = filters();
  params.set("sort_by", state.sortBy);
  params.set("sort_order", state.sortOrder);
  params.set("page", String(state.page));
  params.set("page_size", String(PAGE_SIZE));
  return params;
}

async function load() {
  $("list-error").textContent = "";
  let page;
  try {
    page = await api(`/v1/users?${query()}`);
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  state.total = page.total || 0;
  const rows = $("rows");
  rows.replaceChildren();
  for (const user of page.items) {
    const tr = document.createElement("tr");
    const cells = [
      user.name, user.email, user.phone, user.status, types(user), user.roles.join(", "),
      user.country, date(user.created_at), date(user.last_login_at),
    ];
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = text(value);
      tr.append(td);
    }
    tr.dataset.status = user.status;
    rows.append(tr);
  }
  const pages = Math.max(1, Math.ceil(state.total / PAGE_SIZE));
  $("summary").textContent = `${state.total.toLocaleString()} users`;
  $("page-label").textContent = `Page ${state.page} of ${pages.toLocaleString()}`;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = state.page >= pages;
}

async function fillStatuses() {
  const values = await api("/v1/users/filter-values");
  const select = $("f-status");
  for (const status of values.statuses) {
    const option = document.createElement("option");
    option.value = status;
    option.textContent = status.replace(/_/g, " ");
    select.append(option);
  }
}

async function start() {
  const list = currentList();
  $("users-title").textContent = LISTS[list].title;
  document.title = `${LISTS[list].title} — usermgmt admin`;
  for (const link of document.querySelectorAll("nav a[data-list]")) {
    if (link.dataset.list === list) link.setAttribute("aria-current", "page");
  }
  if (!token()) {
    show("sign-in");
    return;
  }
  show("users");
  try {
    await fillStatuses();
  } catch (error) {
    $("list-error").textContent = error.message;
  }
  await load();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  const body = JSON.stringify({ identifier: $("identifier").value, password: $("password").value });
  try {
    const session = await api("/v1/auth/login", { method: "POST", body });
    sessionStorage.setItem("usermgmt-token", session.token);
    await start();
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("/v1/auth/logout", { method: "POST" });
  } finally {
    sessionStorage.removeItem("usermgmt-token");
    location.href = `${UI}/users`;
  }
});

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.page = 1;
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
    state.page = 1;
    load();
  });
}
// Records in a CSV text (newlines inside quoted cells do not count), header excluded.
function csvRecords(text) {
  let records = 0;
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (c === "\n" && !quoted) records += 1;
  }
  return Math.max(0, records - 1);
}

// Export: every user matching the current filters, as the API streams it, saved as users.csv.
$("export").addEventListener("click", async () => {
  $("export-status").textContent = "Exporting…";
  const response = await fetch(`${API}/v1/users/bulk/export?${filters()}`, {
    headers: { authorization: `Bearer ${token()}` },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    $("export-status").textContent = body && body.error ? body.error.message : response.statusText;
    return;
  }
  const blob = await response.blob();
  const rows = csvRecords(await blob.text());
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "users.csv";
  link.click();
  URL.revokeObjectURL(link.href);
  $("export-status").textContent = `Exported ${rows.toLocaleString()} users to users.csv`;
});

$("prev").addEventListener("click", () => { state.page -= 1; load(); });
$("next").addEventListener("click", () => { state.page += 1; load(); });

start();
