import { Code } from "@connectrpc/connect";
import type { App } from "../app";
import { h } from "../dom";
import { describeError, isCode } from "../errors";
import { alert, busy, card, field } from "../ui";

/** login is the sign-in screen. */
export function login(app: App): HTMLElement {
  const flash = app.takeFlash();
  const email = field({
    label: "Email",
    name: "email",
    type: "email",
    autocomplete: "username",
    value: flash?.email,
    autofocus: !flash?.email,
  });
  const password = field({
    label: "Password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    autofocus: !!flash?.email,
  });
  const out = alert();
  if (flash) out.success(flash.text);
  const submit = h("button", { type: "submit", class: "button button-primary button-block" }, "Log in");
  const form = h("form", {}, out.el, email.wrap, password.wrap, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.clear();
    try {
      await busy(submit, "Logging in…", () => app.session.login(email.input.value, password.input.value));
      app.navigate("/profile");
    } catch (err) {
      out.error(describeError(err, "login"));
      if (isCode(err, Code.Unauthenticated)) {
        password.input.select(); // ready to type the password again
        password.input.focus();
      }
    }
  });
  return card(
    "Log in",
    "Welcome back. Log in to see your account and the devices signed in to it.",
    form,
    h("p", { class: "switch" }, "New here? ", h("a", { href: "/register", "data-link": true }, "Create an account")),
  );
}
