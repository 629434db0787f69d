import type { App } from "../app";
import { h } from "../dom";
import { describeError } from "../errors";
import { formatDate } from "../format";
import type { User } from "../gen/auth/v1/auth_pb";
import { alert, card, loading } from "../ui";

/** profile shows the signed-in user as the service reports it (Me). */
export function profile(app: App): HTMLElement {
  const flash = app.takeFlash();
  const out = alert();
  if (flash) out.success(flash.text);
  const body = h("div", { class: "profile" }, loading("Loading your profile…"));
  app.client
    .me({})
    .then(({ user }) => {
      if (!user) throw new Error("no user in the Me response");
      app.session.user = user;
      body.replaceChildren(...details(user));
    })
    .catch((err) => {
      body.replaceChildren();
      out.error(describeError(err));
    });
  return card("Your profile", null, out.el, body);
}

function details(user: User): HTMLElement[] {
  return [
    h(
      "div",
      { class: "identity" },
      h("span", { class: "avatar", "aria-hidden": "true" }, user.email.charAt(0).toUpperCase()),
      h(
        "div",
        {},
        h("p", { class: "email", "data-testid": "profile-email" }, user.email),
        h("p", { class: "muted" }, `Member since ${formatDate(user.createTime, false)}`),
      ),
    ),
    h(
      "dl",
      { class: "details" },
      h("dt", {}, "User ID"),
      h("dd", {}, h("code", {}, user.id)),
      h("dt", {}, "Roles"),
      h("dd", {}, user.roles.length ? user.roles.map((r) => h("span", { class: "chip" }, r)) : "none"),
    ),
    h(
      "div",
      { class: "actions" },
      h("a", { href: "/sessions", class: "button", "data-link": true }, "Manage sessions"),
      h("a", { href: "/password", class: "button button-ghost", "data-link": true }, "Change password"),
    ),
  ];
}
