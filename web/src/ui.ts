// Building blocks shared by the screens: cards, fields, buttons, messages.
import { h, uid } from "./dom";

/** card wraps a screen's content with its title and an optional lead text. */
export function card(title: string, lead: string | null, ...body: (Node | null)[]): HTMLElement {
  return h(
    "section",
    { class: "card", "aria-labelledby": "screen-title" },
    h("h1", { id: "screen-title", tabindex: "-1" }, title),
    lead ? h("p", { class: "lead" }, lead) : null,
    ...body,
  );
}

export interface FieldOptions {
  label: string;
  name: string;
  type?: string;
  autocomplete?: string;
  hint?: string;
  value?: string;
  minlength?: number;
  maxlength?: number;
  required?: boolean;
  autofocus?: boolean;
}

/** field is a labelled input with an optional hint tied to it by aria-describedby. */
export function field(o: FieldOptions): { wrap: HTMLElement; input: HTMLInputElement } {
  const id = uid(o.name);
  const hintId = o.hint ? `${id}-hint` : null;
  const input = h("input", {
    id,
    name: o.name,
    type: o.type ?? "text",
    autocomplete: o.autocomplete,
    value: o.value,
    minlength: o.minlength,
    maxlength: o.maxlength,
    required: o.required ?? true,
    autofocus: o.autofocus,
    spellcheck: "false",
    "aria-describedby": hintId,
  });
  const wrap = h(
    "div",
    { class: "field" },
    h("label", { for: id }, o.label),
    input,
    hintId ? h("p", { id: hintId, class: "hint" }, o.hint!) : null,
  );
  return { wrap, input };
}

/** alert is a live region for a form's outcome: errors are read out at once. */
export function alert(): { el: HTMLElement; error(msg: string): void; success(msg: string): void; clear(): void } {
  const el = h("div", { class: "alert", role: "status", "aria-live": "polite", hidden: true });
  const show = (kind: "error" | "success", msg: string) => {
    el.className = `alert alert-${kind}`;
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.setAttribute("aria-live", kind === "error" ? "assertive" : "polite");
    el.textContent = msg;
    el.hidden = false;
  };
  return {
    el,
    error: (msg) => show("error", msg),
    success: (msg) => show("success", msg),
    clear: () => {
      el.hidden = true;
      el.textContent = "";
    },
  };
}

/**
 * busy disables a button while work runs and swaps its label, so a form
 * cannot be sent twice and screen readers hear that something happens.
 */
export async function busy<T>(button: HTMLButtonElement, label: string, work: () => Promise<T>): Promise<T> {
  const idle = button.textContent ?? "";
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = idle;
  }
}

/** spinner is a loading placeholder with text for assistive technology. */
export function loading(text: string): HTMLElement {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}
