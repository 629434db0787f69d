import { Code } from "@connectrpc/connect";
import type { App } from "../app";
import { h } from "../dom";
import { describeError, isCode } from "../errors";
import { deviceName, formatAgo, formatDate } from "../format";
import type { Session as SessionInfo } from "../gen/auth/v1/auth_pb";
import { alert, busy, card, loading } from "../ui";

/** sessions lists the devices signed in to the account and ends any other one. */
export function sessions(app: App): HTMLElement {
  const out = alert();
  const list = h("ul", { class: "sessions", "aria-label": "Active sessions" });
  const count = h("p", { class: "lead", "aria-live": "polite" });
  const body = h("div", {}, loading("Loading sessions…"));
  const view = card("Sessions", null, count, out.el, body);

  async function load() {
    try {
      show((await app.client.listSessions({})).sessions);
    } catch (err) {
      body.replaceChildren();
      out.error(describeError(err));
    }
  }

  function show(all: SessionInfo[]) {
    // This device first, then the most recently used.
    const lastUse = (s: SessionInfo) => Number(s.lastUseTime?.seconds ?? 0n);
    const ordered = [...all].sort((a, b) => Number(b.current) - Number(a.current) || lastUse(b) - lastUse(a));
    count.textContent =
      ordered.length === 1
        ? "1 active session: only this device is signed in."
        : `${ordered.length} active sessions. End any you don't recognise.`;
    list.replaceChildren(...ordered.map(row));
    body.replaceChildren(list);
  }

  async function revoke(s: SessionInfo, name: string, button: HTMLButtonElement) {
    out.clear();
    try {
      await busy(button, "Revoking…", () => app.client.revokeSession({ sessionId: s.id }));
      out.success(`Session on ${name} ended.`);
    } catch (err) {
      out.error(describeError(err));
      // Only a session that is already gone makes the list worth reloading.
      if (!isCode(err, Code.NotFound)) return;
    }
    await load();
    // The button that had focus is gone: keep keyboard users in the list.
    (list.querySelector<HTMLElement>("button") ?? view.querySelector<HTMLElement>("h1"))?.focus();
  }

  function row(s: SessionInfo): HTMLElement {
    const name = deviceName(s.userAgent);
    let action: HTMLElement;
    if (s.current) {
      action = h("span", { class: "badge" }, "This device");
    } else {
      const button = h(
        "button",
        {
          type: "button",
          class: "button button-small button-danger",
          "aria-label": `Revoke session: ${name}, last active ${formatAgo(s.lastUseTime)}`,
        },
        "Revoke",
      );
      button.addEventListener("click", () => void revoke(s, name, button));
      action = button;
    }
    return h(
      "li",
      { class: s.current ? "session current" : "session", "data-session-id": s.id },
      h(
        "div",
        { class: "device" },
        h("span", { class: "device-icon", "aria-hidden": "true" }),
        h(
          "div",
          {},
          h("p", { class: "device-name" }, name),
          h("p", { class: "muted" }, `${s.ipAddress || "unknown address"} · signed in ${formatDate(s.createTime)}`),
          h("p", { class: "muted" }, `Last active ${formatAgo(s.lastUseTime)} · expires ${formatDate(s.expireTime)}`),
        ),
      ),
      action,
    );
  }

  void load();
  return view;
}
