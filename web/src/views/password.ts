import type { App } from "../app";
import { h } from "../dom";
import { describeError } from "../errors";
import { alert, busy, card, field } from "../ui";

/** password changes the password; the service then ends every other session. */
export function password(app: App): HTMLElement {
  const current = field({
    label: "Current password",
    name: "current-password",
    type: "password",
    autocomplete: "current-password",
    autofocus: true,
  });
  const next = field({
    label: "New password",
    name: "new-password",
    type: "password",
    autocomplete: "new-password",
    hint: "8 to 128 characters.",
    minlength: 8,
    maxlength: 128,
  });
  const confirm = field({
    label: "Confirm new password",
    name: "confirm-password",
    type: "password",
    autocomplete: "new-password",
  });
  const out = alert();
  const submit = h("button", { type: "submit", class: "button button-primary" }, "Change password");
  const form = h("form", {}, out.el, current.wrap, next.wrap, confirm.wrap, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.clear();
    if (next.input.value !== confirm.input.value) {
      out.error("The new passwords don't match.");
      confirm.input.focus();
      return;
    }
    try {
      await busy(submit, "Changing…", () =>
        app.client.changePassword({ currentPassword: current.input.value, newPassword: next.input.value }),
      );
      form.reset();
      out.success("Password changed. Your other sessions have been signed out.");
    } catch (err) {
      out.error(describeError(err, "change-password"));
      current.input.focus();
    }
  });
  return card("Change password", "Changing it signs out every other session: only this browser stays signed in.", form);
}
