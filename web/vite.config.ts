// Vite configuration of the browser app. VITE_API_URL (read at build and dev
// time) points the app at a gateway on another origin; without it the app
// calls its own origin, which is how the gateway serves web/dist.
import { defineConfig, loadEnv, type Plugin } from "vite";

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, process.cwd(), "VITE_");
  const api = env.VITE_API_URL ? new URL(env.VITE_API_URL).origin : "";
  return {
    plugins: [contentSecurityPolicy(api)],
    build: { target: "es2022", sourcemap: true },
    server: { port: 5173, strictPort: true },
    preview: { port: 4173, strictPort: true },
  };
});

// contentSecurityPolicy adds a strict CSP to the built index.html. The
// refresh token lives in localStorage, so script injection is the threat
// that matters: only our own bundled scripts may run, and the page may talk
// only to its own origin and the API's. The dev server injects inline
// styles for hot reload, so the policy applies to builds only.
function contentSecurityPolicy(apiOrigin: string): Plugin {
  const policy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${apiOrigin ? " " + apiOrigin : ""}`,
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join("; ");
  return {
    name: "authgw-csp",
    apply: "build",
    transformIndexHtml: () => [
      {
        tag: "meta",
        attrs: { "http-equiv": "Content-Security-Policy", content: policy },
        injectTo: "head-prepend",
      },
    ],
  };
}
