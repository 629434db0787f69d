// The signed-in session of this browser: the access token in memory, the
// refresh token in localStorage (shared by the tabs of this origin), and the
// refresh protocol that keeps several tabs from logging each other out.
//
// Why localStorage and not an httpOnly cookie: see web/README.md. In short,
// a cookie the page cannot read needs the gateway to act as a BFF (set,
// rotate and clear the cookie, and defend against CSRF); until it does, the
// token is in storage that script can read, and the app defends that with a
// strict CSP and by never building HTML from strings.
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { AuthClient } from "./api";
import type { LoginResponse, RefreshResponse, User } from "./gen/auth/v1/auth_pb";

/** refreshKey is the localStorage key of the refresh token. */
export const refreshKey = "authgw.refreshToken";
const lockName = "authgw-refresh";

/** Session holds the tokens and the signed-in user of this tab. */
export class Session {
  #access: string | null = null;
  #user: User | null = null;
  #inflight: Promise<string> | null = null;
  #client: AuthClient | null = null;
  #listeners = new Set<(reason: "signed-in" | "signed-out" | "ended") => void>();

  constructor() {
    // Another tab logged out or its refresh found the session ended: follow it.
    window.addEventListener("storage", (e) => {
      if ((e.key === refreshKey || e.key === null) && readRefresh() === null) {
        this.#access = null;
        this.#user = null;
        this.#emit("signed-out");
      }
    });
  }

  /** attach gives the session the client it uses for Login, Refresh and Logout. */
  attach(client: AuthClient): void {
    this.#client = client;
  }

  get accessToken(): string | null {
    return this.#access;
  }

  get user(): User | null {
    return this.#user;
  }

  set user(u: User | null) {
    this.#user = u;
  }

  /** signedIn reports whether this browser holds a session (possibly still to be refreshed). */
  get signedIn(): boolean {
    return this.#access !== null || readRefresh() !== null;
  }

  /** onChange registers a listener for sign-in, sign-out and ended sessions. */
  onChange(fn: (reason: "signed-in" | "signed-out" | "ended") => void): void {
    this.#listeners.add(fn);
  }

  async login(email: string, password: string): Promise<void> {
    this.#accept(await this.#rpc().login({ email, password }));
    this.#emit("signed-in");
  }

  /**
   * refresh returns a fresh access token. failed, when given, is the token
   * the server just rejected: if this tab already replaced it, the current
   * one is returned without another refresh. Concurrent callers in a tab
   * share one refresh; tabs take turns under a Web Lock.
   */
  refresh(failed?: string): Promise<string> {
    if (failed !== undefined && this.#access !== null && this.#access !== failed) {
      return Promise.resolve(this.#access);
    }
    this.#inflight ??= withLock(lockName, () => this.#refreshLocked()).finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  async #refreshLocked(): Promise<string> {
    // Read the token only now, holding the lock: if another tab rotated it
    // while this one waited, this is the new token, not the spent one.
    const token = readRefresh();
    if (token === null) {
      this.#forget("ended");
      throw new ConnectError("no refresh token", Code.Unauthenticated);
    }
    try {
      this.#accept(await this.#rpc().refresh({ refreshToken: token }));
      return this.#access!;
    } catch (err) {
      // Only a refused token ends the session; outages keep it for a retry.
      if (ConnectError.from(err).code === Code.Unauthenticated && readRefresh() === token) {
        this.#forget("ended");
      }
      throw err;
    }
  }

  /** logout ends the session on the server (best effort) and here. */
  async logout(): Promise<void> {
    const token = readRefresh();
    try {
      if (token !== null) await this.#rpc().logout({ refreshToken: token });
    } finally {
      this.#forget("signed-out");
    }
  }

  /** interceptor adds the bearer token and refreshes once on unauthenticated. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      let token = this.#access;
      if (token === null && readRefresh() !== null) token = await this.refresh();
      if (token !== null) req.header.set("Authorization", `Bearer ${token}`);
      try {
        return await next(req);
      } catch (err) {
        // Retry only a call that carried a token, and only once: a second
        // unauthenticated goes to the caller, so there is never a loop.
        if (token === null || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
        const fresh = await this.refresh(token);
        req.header.set("Authorization", `Bearer ${fresh}`);
        return await next(req);
      }
    };
  }

  #rpc(): AuthClient {
    if (!this.#client) throw new Error("session: no client attached");
    return this.#client;
  }

  #accept(res: LoginResponse | RefreshResponse): void {
    this.#access = res.accessToken;
    this.#user = res.user ?? this.#user;
    localStorage.setItem(refreshKey, res.refreshToken);
  }

  #forget(reason: "signed-out" | "ended"): void {
    const had = this.#access !== null || readRefresh() !== null;
    this.#access = null;
    this.#user = null;
    localStorage.removeItem(refreshKey);
    if (had) this.#emit(reason);
  }

  #emit(reason: "signed-in" | "signed-out" | "ended"): void {
    for (const fn of this.#listeners) fn(reason);
  }
}

function readRefresh(): string | null {
  return localStorage.getItem(refreshKey);
}

/**
 * withLock runs fn holding an exclusive Web Lock shared by all tabs of the
 * origin. Without the Locks API (insecure contexts, old browsers) it runs fn
 * directly; the server's grace for the previous refresh token then covers
 * two tabs refreshing at once.
 */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return fn();
  return locks.request(name, { mode: "exclusive" }, fn) as Promise<T>;
}
