// Roles & Permissions (/users/roles): the tenant's roles with their permissions; create, edit
// and delete them (role.manage). The permission catalog explains each permission.
"use strict";

import { can, get, request } from "./api.js";
import { $, clearFieldErrors, confirmAction, el, field, showFieldErrors, tableHead } from "./dom.js";

let catalog = [];

function roleForm(role) {
  const form = el("form", { id: "role-form", novalidate: true },
    el("h2", {}, role ? `Edit role ${role.name}` : "New role"),
    el("p", { class: "error", role: "alert", id: "role-form-summary" }),
    field("role-name", "Name", el("input", { name: "name", autocomplete: "off", value: role ? role.name : "" })),
    field("role-description", "Description", el("input", { name: "description", value: role && role.description ? role.description : "" })),
    el("fieldset", { class: "checks" }, el("legend", {}, "Permissions"),
      catalog.map(({ permission, description }) => {
        const id = `role-permission-${permission.replace(/\W/g, "-")}`;
        return el("span", { class: "check" },
          el("input", { type: "checkbox", id, name: "permissions", value: permission, checked: role ? role.permissions.includes(permission) : false }),
          el("label", { for: id }, `${permission} — ${description}`));
      })),
    el("div", { class: "actions" },
      el("button", { type: "submit" }, role ? "Save role" : "Create role"),
      role ? el("button", { type: "button", onclick: () => render() }, "Cancel") : null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const description = form.elements.description.value.trim();
    const body = {
      name: form.elements.name.value.trim(),
      description: description || null,
      permissions: [...form.querySelectorAll('[name="permissions"]:checked')].map((b) => b.value),
    };
    try {
      if (role) await request(`/v1/roles/${role.id}`, { method: "PUT", body });
      else await request("/v1/roles", { method: "POST", body });
      await render(role ? `Role ${body.name} saved.` : `Role ${body.name} created.`);
    } catch (error) {
      showFieldErrors(form, error, $("role-form-summary"));
    }
  });
  return form;
}

async function render(note = "", editing = null) {
  const roles = await get("/v1/roles");
  const rows = roles.map((role) => el("tr", { dataset: { role: role.name } },
    el("th", { scope: "row" }, role.name),
    el("td", {}, role.description || ""),
    el("td", {}, el("ul", { class: "plain" }, role.permissions.map((p) => el("li", {}, p)))),
    el("td", { class: "row-actions" },
      el("button", { type: "button", onclick: () => render("", role) }, "Edit"),
      el("button", {
        type: "button", class: "danger", "aria-label": `Delete role ${role.name}`,
        onclick: async () => {
          if (!await confirmAction(`Delete role ${role.name}?`, "Users holding it lose its permissions.", "Delete role")) return;
          try {
            await request(`/v1/roles/${role.id}`, { method: "DELETE" });
            await render(`Role ${role.name} deleted.`);
          } catch (error) {
            await render(error.message);
          }
        },
      }, "Delete"))));
  $("roles-body").replaceChildren(
    note ? el("p", { role: "status", class: "ok" }, note) : "",
    el("div", { class: "table-wrap" }, el("table", { id: "role-table" },
      tableHead(["Role", "Description", "Permissions", "Actions"]),
      el("tbody", {}, rows))),
    roleForm(editing),
  );
  if (editing) $("role-name").focus();
}

export async function showRoles() {
  document.title = "Roles & Permissions — usermgmt admin";
  if (!can("role.manage")) {
    $("roles-body").replaceChildren(el("p", {}, "Managing roles needs the role.manage permission."));
    return;
  }
  catalog = await get("/v1/permissions");
  await render();
}
