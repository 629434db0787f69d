// The Connect clients of the auth service. Two of them share one base URL:
// `publicClient` makes the calls that need no access token (register, log
// in, refresh, log out) and never refreshes; `client` carries the access
// token and refreshes once when the server rejects it.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/auth/v1/auth_pb";

/** AuthClient is a promise client of auth.v1.AuthService. */
export type AuthClient = Client<typeof AuthService>;

/**
 * apiBaseUrl is where the gateway answers: the page's own origin, or
 * VITE_API_URL when the app is built or served for another origin (CORS).
 */
export const apiBaseUrl: string = (import.meta.env.VITE_API_URL || window.location.origin).replace(/\/+$/, "");

/** Every call gets this deadline; the gateway enforces its own per route. */
const timeoutMs = 10_000;

/** createClients builds the public client and the bearer client. */
export function createClients(bearer: Interceptor): { publicClient: AuthClient; client: AuthClient } {
  const base = { baseUrl: apiBaseUrl, defaultTimeoutMs: timeoutMs };
  return {
    publicClient: createClient(AuthService, createConnectTransport(base)),
    client: createClient(AuthService, createConnectTransport({ ...base, interceptors: [bearer] })),
  };
}
