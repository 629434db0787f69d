// The application shell: routes, the top bar, and navigation between screens.
import type { AuthClient } from "./api";
import { h } from "./dom";
import type { Session } from "./session";

/** Flash is a one-time message carried to the next screen. */
export interface Flash {
  kind: "success" | "info";
  text: string;
  email?: string;
}

/** App is what every screen gets. */
export interface App {
  session: Session;
  /** client calls with the bearer token and refreshes it when needed. */
  client: AuthClient;
  /** publicClient calls without a token (Register). */
  publicClient: AuthClient;
  navigate(path: string, flash?: Flash): void;
  /** takeFlash returns the pending message once. */
  takeFlash(): Flash | null;
}

/** Screen renders one route into a container. */
export type Screen = (app: App) => HTMLElement;

export interface Route {
  title: string;
  screen: Screen;
  /** auth: "user" needs a session; "guest" is for the signed-out only. */
  auth: "user" | "guest";
  nav?: string;
}

/** startApp renders routes into root and keeps the URL and screen in sync. */
export function startApp(
  root: HTMLElement,
  session: Session,
  clients: { client: AuthClient; publicClient: AuthClient },
  routes: Record<string, Route>,
  initialFlash?: Flash,
): App {
  let flash: Flash | null = initialFlash ?? null;
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const nav = h("nav", { class: "nav", "aria-label": "Account" });
  const header = h(
    "header",
    { class: "topbar" },
    h(
      "a",
      { class: "brand", href: "/", "data-link": true },
      h("span", { class: "logo", "aria-hidden": "true" }),
      "Authgw",
    ),
    nav,
  );
  root.replaceChildren(header, main, h("footer", { class: "footer" }, "Authgw · sessions you can see and end"));

  const app: App = {
    session,
    ...clients,
    navigate(path, f) {
      flash = f ?? null;
      if (path !== location.pathname) history.pushState(null, "", path);
      render(true);
    },
    takeFlash() {
      const f = flash;
      flash = null;
      return f;
    },
  };

  function render(moveFocus: boolean) {
    let path = location.pathname;
    let route = routes[path];
    const target = !route
      ? session.signedIn
        ? "/profile"
        : "/login"
      : route.auth === "user" && !session.signedIn
        ? "/login"
        : route.auth === "guest" && session.signedIn
          ? "/profile"
          : null;
    if (target) {
      history.replaceState(null, "", target);
      path = target;
      route = routes[target];
    }
    document.title = `${route.title} · Authgw`;
    renderNav(path);
    main.replaceChildren(route.screen(app));
    if (moveFocus)
      (main.querySelector<HTMLElement>("[autofocus]") ?? main.querySelector<HTMLElement>("h1") ?? main).focus();
  }

  function renderNav(path: string) {
    if (!session.signedIn) {
      nav.replaceChildren(
        link("/login", "Log in", path),
        link("/register", "Create account", path, "button button-small"),
      );
      return;
    }
    const items = Object.entries(routes)
      .filter(([, r]) => r.nav)
      .map(([p, r]) => link(p, r.nav!, path));
    const logout = h("button", { type: "button", class: "button button-small button-ghost" }, "Log out");
    logout.addEventListener("click", async () => {
      logout.disabled = true;
      try {
        await session.logout();
      } catch {
        // The session is gone from this browser either way.
      }
      app.navigate("/login", { kind: "info", text: "You have been logged out." });
    });
    nav.replaceChildren(
      ...items,
      session.user ? h("span", { class: "who", title: session.user.email }, session.user.email) : "",
      logout,
    );
  }

  function link(href: string, text: string, current: string, cls = "navlink") {
    return h("a", { href, class: cls, "data-link": true, "aria-current": href === current ? "page" : null }, text);
  }

  // Same-origin links navigate without a page load.
  root.addEventListener("click", (e) => {
    const a = (e.target as Element).closest<HTMLAnchorElement>("a[data-link]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    app.navigate(new URL(a.href).pathname);
  });
  window.addEventListener("popstate", () => render(true));
  session.onChange((reason) => {
    if (reason === "signed-in") return;
    app.navigate("/login", {
      kind: "info",
      text: reason === "ended" ? "Your session has ended. Please log in again." : "You have been logged out.",
    });
  });
  render(false);
  return app;
}
