// Create user (/users/create): the user form, with the API's validation errors shown beside
// the fields they concern.
"use strict";

import { UI, request } from "./api.js";
import { $, clearFieldErrors, showFieldErrors } from "./dom.js";
import { buildUserForm, createBody, formChoices } from "./user-form.js";

export async function showCreate() {
  document.title = "Create user — usermgmt admin";
  const form = $("create-form");
  buildUserForm(form, await formChoices(), null, "Create user");
  form.querySelector('[value="is_learner"]').checked = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    $("create-form-summary").textContent = "";
    try {
      const { body: user } = await request("/v1/users", { method: "POST", body: createBody(form) });
      location.href = `${UI}/users/${user.id}/edit/overview?created=1`;
    } catch (error) {
      showFieldErrors(form, error, $("create-form-summary"));
    }
  });
}
