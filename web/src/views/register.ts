import type { App } from "../app";
import { h } from "../dom";
import { describeError } from "../errors";
import { alert, busy, card, field } from "../ui";

/** register is the sign-up screen. Registering does not log in: the login screen follows. */
export function register(app: App): HTMLElement {
  const email = field({ label: "Email", name: "email", type: "email", autocomplete: "email", autofocus: true });
  const password = field({
    label: "Password",
    name: "password",
    type: "password",
    autocomplete: "new-password",
    hint: "8 to 128 characters. A few words you'll remember make a strong password.",
    minlength: 8,
    maxlength: 128,
  });
  const out = alert();
  const submit = h("button", { type: "submit", class: "button button-primary button-block" }, "Create account");
  const form = h("form", {}, out.el, email.wrap, password.wrap, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.clear();
    try {
      const res = await busy(submit, "Creating account…", () =>
        app.publicClient.register({ email: email.input.value, password: password.input.value }),
      );
      app.navigate("/login", {
        kind: "success",
        text: "Your account is ready. Log in to continue.",
        email: res.user?.email ?? email.input.value,
      });
    } catch (err) {
      out.error(describeError(err, "register"));
      email.input.focus();
    }
  });
  return card(
    "Create your account",
    "One account, every device. You can see and end each session later.",
    form,
    h("p", { class: "switch" }, "Already have an account? ", h("a", { href: "/login", "data-link": true }, "Log in")),
  );
}
