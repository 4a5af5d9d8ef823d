// Webhooks (/users/webhooks): the tenant's endpoints, their recent deliveries with the last
// answer, redelivery, enable/disable, delete, and a form for a new endpoint whose signing
// secret is shown once (webhook.manage + user.view).
"use strict";

import { VOCABULARY, can, get, request } from "./api.js";
import { $, clearFieldErrors, confirmAction, el, field, moment, showFieldErrors, tableHead } from "./dom.js";

function endpointForm() {
  const form = el("form", { id: "webhook-form", novalidate: true },
    el("h2", {}, "New endpoint"),
    el("p", { class: "error", role: "alert", id: "webhook-form-summary" }),
    field("webhook-url", "URL", el("input", { name: "url", type: "url", autocomplete: "off", placeholder: "https://example.com/hooks/usermgmt" })),
    el("fieldset", { class: "checks" }, el("legend", {}, "Kinds (none checked: every kind)"),
      VOCABULARY.event_kinds.map((kind) => {
        const id = `webhook-kind-${kind.replace(/\W/g, "-")}`;
        return el("span", { class: "check" },
          el("input", { type: "checkbox", id, name: "kinds", value: kind }),
          el("label", { for: id }, kind));
      })),
    el("div", { class: "actions" }, el("button", { type: "submit" }, "Create endpoint")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const body = {
      url: form.elements.url.value.trim(),
      kinds: [...form.querySelectorAll('[name="kinds"]:checked')].map((b) => b.value),
    };
    try {
      const { body: issued } = await request("/v1/webhooks", { method: "POST", body });
      await render(el("span", {}, "Endpoint created. Its signing secret, shown this once: ",
        el("code", { id: "webhook-secret" }, issued.secret)));
    } catch (error) {
      showFieldErrors(form, error, $("webhook-form-summary"));
    }
  });
  return form;
}

async function deliveries(endpoint) {
  const list = await get(`/v1/webhooks/${endpoint.id}/deliveries?limit=50`);
  const rows = list.map((d) => el("tr", { dataset: { delivery: d.id } },
    el("td", {}, String(d.event_id)),
    el("td", {}, d.kind),
    el("td", { class: `status-${d.status}` }, d.status),
    el("td", {}, String(d.attempts)),
    el("td", {}, d.response_status ? String(d.response_status) : (d.error || "")),
    el("td", {}, d.last_attempt_at ? moment(d.last_attempt_at) : ""),
    el("td", { class: "row-actions" }, el("button", {
      type: "button", "aria-label": `Redeliver event ${d.event_id}`,
      onclick: async () => {
        await request(`/v1/webhooks/${endpoint.id}/deliveries/${d.id}/redeliver`, { method: "POST" });
        await render(`Event ${d.event_id} queued again for ${endpoint.url}.`, endpoint.id);
      },
    }, "Redeliver"))));
  return el("div", { id: "webhook-deliveries" },
    el("h2", {}, `Recent deliveries to ${endpoint.url}`),
    list.length === 0 ? el("p", {}, "No deliveries yet.") :
      el("div", { class: "table-wrap" }, el("table", { id: "delivery-table" },
        tableHead(["Event", "Kind", "Status", "Attempts", "Last answer", "Last attempt", "Actions"]),
        el("tbody", {}, rows))));
}

async function render(note = "", showing = null) {
  const endpoints = await get("/v1/webhooks");
  const rows = endpoints.map((endpoint) => el("tr", { dataset: { webhook: endpoint.url } },
    el("th", { scope: "row" }, endpoint.url),
    el("td", {}, endpoint.kinds.length ? endpoint.kinds.join(", ") : "every kind"),
    el("td", {}, endpoint.enabled ? "enabled" : "disabled"),
    el("td", { class: "row-actions" },
      el("button", { type: "button", onclick: () => render("", endpoint.id) }, "Deliveries"),
      el("button", {
        type: "button",
        onclick: async () => {
          await request(`/v1/webhooks/${endpoint.id}`, { method: "PATCH", body: { enabled: !endpoint.enabled } });
          await render(`${endpoint.url} ${endpoint.enabled ? "disabled" : "enabled"}.`);
        },
      }, endpoint.enabled ? "Disable" : "Enable"),
      el("button", {
        type: "button", class: "danger", "aria-label": `Delete endpoint ${endpoint.url}`,
        onclick: async () => {
          if (!await confirmAction(`Delete ${endpoint.url}?`, "Its delivery history goes with it.", "Delete endpoint")) return;
          await request(`/v1/webhooks/${endpoint.id}`, { method: "DELETE" });
          await render(`${endpoint.url} deleted.`);
        },
      }, "Delete"))));
  const shown = endpoints.find((e) => e.id === showing);
  $("webhooks-body").replaceChildren(
    note ? el("p", { role: "status", class: "ok" }, note) : "",
    endpoints.length === 0 ? el("p", {}, "No webhook endpoints yet.") :
      el("div", { class: "table-wrap" }, el("table", { id: "webhook-table" },
        tableHead(["URL", "Kinds", "State", "Actions"]),
        el("tbody", {}, rows))),
    shown ? await deliveries(shown) : "",
    endpointForm(),
  );
}

export async function showWebhooks() {
  document.title = "Webhooks — usermgmt admin";
  if (!can("webhook.manage") || !can("user.view")) {
    $("webhooks-body").replaceChildren(el("p", {}, "Managing webhooks needs the webhook.manage and user.view permissions."));
    return;
  }
  await render();
}
