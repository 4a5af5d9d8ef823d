// The public account pages a message's link opens (no session needed):
// accept-invitation and reset-password (choose a password with the link's token) and verify
// (confirm the link's token, or type an SMS code). Without a token, reset-password and verify
// offer to send a new link. The token is taken out of the address bar once read.
"use strict";

const API = document.body.dataset.api;
const $ = (id) => document.getElementById(id);

const PAGES = {
  "accept-invitation": {
    title: "Accept your invitation",
    intro: "Choose a password to finish setting up your account.",
    confirm: "/v1/auth/invitation/accept",
    done: "Your password is set and your account is ready. You can sign in now.",
  },
  "reset-password": {
    title: "Choose a new password",
    intro: "Your other sessions will be signed out.",
    confirm: "/v1/auth/password-reset/confirm",
    done: "Your password was changed. You can sign in with it now.",
    request: "/v1/auth/password-reset",
    requestTitle: "Forgot your password? We will send you a link.",
  },
  verify: {
    title: "Confirm your address",
    intro: "",
    confirm: "/v1/auth/verify",
    done: "Thank you: your address is confirmed. You can sign in now.",
    request: "/v1/auth/verification",
    requestTitle: "Need a new link or code?",
  },
};

/// POSTs JSON to the API; resolves on 2xx, rejects with the error model's message (and the
/// fields' messages) otherwise.
async function post(path, body) {
  const response = await fetch(`${API}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.ok) return;
  let detail = {};
  try {
    detail = (await response.json()).error || {};
  } catch (_) {
    // Not JSON: the status says it.
  }
  const fields = Object.values(detail.fields || {}).flat();
  throw new Error(fields.length ? fields.join(" ") : detail.message || `failed (${response.status})`);
}

function report(ok, text) {
  $("account-result").textContent = ok ? text : "";
  $("account-error").textContent = ok ? "" : text;
}

function finished(page) {
  for (const form of document.querySelectorAll("form")) form.hidden = true;
  $("account-intro").textContent = "";
  report(true, page.done);
  $("sign-in-link").hidden = false;
}

/// Runs `action` for a form's submit, reporting its outcome.
function onSubmit(id, action) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    report(true, "");
    try {
      await action();
    } catch (error) {
      report(false, error.message);
    }
  });
}

function start() {
  const name = location.pathname.split("/").filter(Boolean).pop();
  const page = PAGES[name];
  if (!page) return;
  document.title = `${page.title} — usermgmt`;
  $("account-title").textContent = page.title;
  $("account-intro").textContent = page.intro;
  const token = new URLSearchParams(location.search).get("token");
  // The token stays out of the address bar (and of the history) once read.
  if (token) history.replaceState(null, "", location.pathname);

  if (token && page.confirm && name !== "verify") {
    $("password-form").hidden = false;
    $("new-password").focus();
    onSubmit("password-form", async () => {
      const password = $("new-password").value;
      if (password !== $("repeat-password").value) throw new Error("The two passwords differ.");
      await post(page.confirm, { token, password });
      finished(page);
    });
  } else if (token) {
    $("verify-form").hidden = false;
    onSubmit("verify-form", async () => {
      await post(page.confirm, { token });
      finished(page);
    });
  } else if (name === "verify") {
    $("code-form").hidden = false;
    onSubmit("code-form", async () => {
      await post("/v1/auth/verify/code", {
        identifier: $("code-identifier").value.trim(),
        code: $("code-value").value.trim(),
      });
      finished(page);
    });
  } else if (!page.request) {
    report(false, "This page needs the link from your invitation message.");
  }
  if (!token && page.request) {
    $("request-form").hidden = false;
    $("request-title").textContent = page.requestTitle;
    onSubmit("request-form", async () => {
      await post(page.request, { identifier: $("request-identifier").value.trim() });
      report(true, "If an account matches, a message is on its way.");
    });
  }
}

start();
