#!/usr/bin/env node
// The browser journey against the real stack: it builds the auth service,
// the gateway and the web app from the working tree, starts them on free
// ports with a fresh SQLite database and a short access-token lifetime, and
// drives Debian's Chromium through playwright-core twice: once with the app
// served by the gateway itself (same origin) and once from a second origin
// that calls the gateway through CORS. Screenshots of every screen go to
// web/test-results/<run>/. Exits non-zero when any step fails.
//
//   node e2e/journey.mjs            (from web/; or: npm --prefix web run e2e)
//
// Environment: CHROMIUM (default /usr/bin/chromium), GO (default go),
// JOURNEY_KEEP=1 keeps the temporary directory for inspection.
import { execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import { build, preview } from "vite";

const webDir = path.resolve(import.meta.dirname, "..");
const repoDir = path.resolve(webDir, "..");
const resultsDir = path.join(webDir, "test-results");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const goBin = process.env.GO || "go";

// The access token lives accessTTL; the auth service accepts it for another
// authLeeway of clock skew, so after expiryWait every call needs a refresh.
const accessTTL = 2;
const authLeeway = 5;
const expiryWait = (accessTTL + authLeeway + 1) * 1000;
const password = "correct horse battery";
const started = Date.now();

const cleanups = [];
let failures = 0;
let passes = 0;
let stopping = false;

process.on("SIGINT", () => void shutdown(130));
process.on("SIGTERM", () => void shutdown(143));

try {
  await main();
} catch (err) {
  if (stopping) await new Promise(() => {}); // interrupted: shutdown() exits
  failures++;
  console.error(`journey: setup failed: ${err?.stack ?? err}`);
}
await shutdown(failures > 0 ? 1 : 0);

async function main() {
  await rm(resultsDir, { recursive: true, force: true });
  await mkdir(resultsDir, { recursive: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), "authgw-journey-"));
  cleanups.push(() =>
    process.env.JOURNEY_KEEP ? console.log(`journey: kept ${tmp}`) : rm(tmp, { recursive: true, force: true }),
  );
  const [authPort, adminPort, gatewayPort, previewPort] = await freePorts(4);
  const gatewayOrigin = `http://127.0.0.1:${gatewayPort}`;
  const previewOrigin = `http://127.0.0.1:${previewPort}`;

  step("build: go binaries and both web bundles");
  // The web app is built from the current sources into the temp dir, so the
  // test never serves a stale web/dist nor clobbers one a dev stack serves.
  const sameDist = path.join(tmp, "dist");
  const corsDist = path.join(tmp, "dist-cors");
  await Promise.all([
    goBuild("./authsvc/cmd/authsvc", path.join(tmp, "authsvc")),
    goBuild("./gateway/cmd/gateway", path.join(tmp, "gateway")),
    (async () => {
      await viteBuild(sameDist, "");
      await viteBuild(corsDist, gatewayOrigin);
    })(),
  ]);

  step("start: auth service, gateway, second origin");
  const authsvc = start("authsvc", path.join(tmp, "authsvc"), {
    AUTH_ADDR: `127.0.0.1:${authPort}`,
    AUTH_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
    AUTH_DATA_DIR: path.join(tmp, "data"),
    AUTH_ACCESS_TOKEN_TTL: `${accessTTL}s`,
    AUTH_ARGON2_MEMORY_KIB: "64",
    AUTH_ARGON2_ITERATIONS: "1",
    AUTH_LOG_FORMAT: "text",
    AUTH_TRUSTED_PROXIES: "127.0.0.1,::1",
  });
  await waitHTTP(`http://127.0.0.1:${authPort}/.well-known/jwks.json`, "authsvc");
  start("gateway", path.join(tmp, "gateway"), {
    GATEWAY_ADDR: `127.0.0.1:${gatewayPort}`,
    GATEWAY_ADMIN_ADDR: "127.0.0.1:0",
    GATEWAY_AUTH_UPSTREAM: `http://127.0.0.1:${authPort}`,
    GATEWAY_WEB_DIR: sameDist,
    GATEWAY_CORS_ORIGINS: previewOrigin,
    GATEWAY_LOG_FORMAT: "text",
  });
  await waitHTTP(`${gatewayOrigin}/readyz`, "gateway");
  const server = await preview({
    root: webDir,
    configFile: path.join(webDir, "vite.config.ts"),
    logLevel: "warn",
    build: { outDir: corsDist },
    preview: { host: "127.0.0.1", port: previewPort, strictPort: true, open: false },
  });
  cleanups.push(() => server.close());

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Signals are ours to handle: shutdown() closes the browser with the rest.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    // Playwright gives every launch a fresh temporary --user-data-dir itself
    // (it refuses one in args), so no profile state leaks between runs.
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  cleanups.push(() => browser.close());

  for (const run of [
    { name: "same-origin", appOrigin: gatewayOrigin, apiOrigin: gatewayOrigin },
    { name: "cross-origin", appOrigin: previewOrigin, apiOrigin: gatewayOrigin },
    // Last: it stops the auth service.
    { name: "error-messages", appOrigin: previewOrigin, apiOrigin: gatewayOrigin, errors: true },
  ]) {
    if (stopping) break;
    const t0 = Date.now();
    try {
      await (run.errors ? errorMessages(browser, run, authsvc) : journey(browser, run));
      passes++;
      console.log(`PASS ${run.name} (${secs(Date.now() - t0)})`);
    } catch (err) {
      if (stopping) break; // interrupted: not a failure of the app
      failures++;
      console.error(`FAIL ${run.name} (${secs(Date.now() - t0)}): ${err?.stack ?? err}`);
    }
  }
}

/** journey walks one user through every screen, asserting what is shown. */
async function journey(browser, { name, appOrigin, apiOrigin }) {
  const dir = path.join(resultsDir, name);
  await mkdir(dir, { recursive: true });
  const context = await browser.newContext({ baseURL: appOrigin, viewport: { width: 1100, height: 760 } });
  context.setDefaultTimeout(10_000);
  const email = `ada.${Date.now().toString(36)}@${name}.example.com`;
  const rpcs = [];
  const pageErrors = [];
  let shot = 0;
  const page = await newPage(context, "tab1", rpcs, pageErrors);
  const screenshot = async (p, label) => {
    await p.bringToFront(); // a background tab paints slowly, if at all
    await p.screenshot({ path: path.join(dir, `${String(++shot).padStart(2, "0")}-${label}.png`), fullPage: true });
  };

  try {
    step(`${name}: register`);
    await page.goto("/register");
    await heading(page, "Create your account");
    await screenshot(page, "register");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter"); // keyboard submit
    await page.waitForURL("**/login");
    await visible(page.getByText("Your account is ready. Log in to continue."));
    equal(await page.getByLabel("Email").inputValue(), email, "login email prefilled after register");
    await screenshot(page, "registered");

    step(`${name}: email taken`);
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(email.toUpperCase());
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await visible(page.getByRole("alert").filter({ hasText: "An account with this email already exists" }));
    await screenshot(page, "email-taken");

    step(`${name}: wrong password, by keyboard only`);
    await page.getByRole("link", { name: "Log in" }).first().click();
    await page.getByLabel("Email").focus();
    await page.keyboard.type(email);
    await page.keyboard.press("Tab");
    await page.keyboard.type("not the password");
    await page.keyboard.press("Tab");
    equal(await page.evaluate(() => document.activeElement?.textContent), "Log in", "focus after email, password, Tab");
    await page.keyboard.press("Enter");
    await visible(page.getByRole("alert").filter({ hasText: "Incorrect email or password." }));
    await screenshot(page, "wrong-password");

    step(`${name}: log in, profile`);
    await page.getByLabel("Password").fill(password);
    await page.getByLabel("Password").press("Enter");
    await page.waitForURL("**/profile");
    await visible(page.getByTestId("profile-email").filter({ hasText: email }));
    await screenshot(page, "profile");
    await page.setViewportSize({ width: 390, height: 800 }); // a phone
    await screenshot(page, "profile-narrow");
    await page.setViewportSize({ width: 1100, height: 760 });
    const me = rpcs.find((r) => r.method === "Me" && r.status === 200);
    if (!me) throw new Error("no successful Me call recorded");
    equal(me.origin, apiOrigin, "origin the API was called on");
    // Across origins the browser only lets the app read answers the gateway's CORS allows.
    equal(me.allowOrigin, appOrigin === apiOrigin ? undefined : appOrigin, "Access-Control-Allow-Origin of Me");

    step(`${name}: sessions, revoke`);
    // A second device: a plain Connect JSON login through the gateway.
    const other = await rpc(apiOrigin, "Login", { email, password }, { "User-Agent": "journey-cli/1.0" });
    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    await visible(page.getByText("2 active sessions"));
    equal(await page.locator("li.session").count(), 2, "sessions listed");
    await visible(page.locator("li.session.current").getByText("This device"));
    await screenshot(page, "sessions");
    await page.getByRole("button", { name: /^Revoke session: journey-cli/ }).click();
    await visible(page.getByText("Session on journey-cli ended."));
    await visible(page.getByText("1 active session"));
    equal(await page.locator("li.session").count(), 1, "sessions listed after revoke");
    await screenshot(page, "revoked");
    await rejected(apiOrigin, other.refreshToken, "the revoked session's refresh token");

    step(`${name}: two tabs, refresh after the access token expired`);
    const tab2 = await newPage(context, "tab2", rpcs, pageErrors);
    await tab2.goto("/profile"); // no access token in this tab: it refreshes first
    await visible(tab2.getByTestId("profile-email").filter({ hasText: email }));
    // Both tabs reload at once: two refreshes race for the same token.
    await Promise.all([page.reload(), tab2.reload()]);
    await Promise.all(
      [page, tab2].map((p) => visible(p.getByRole("heading", { name: "Sessions" }).or(p.getByTestId("profile-email")))),
    );
    await page.waitForTimeout(expiryWait);
    const mark = rpcs.length;
    // Both tabs call with expired tokens at once; each must refresh and retry.
    // Clicked from inside the pages, so neither waits for the other.
    await Promise.all(
      [page, tab2].map((p) => p.evaluate(() => document.querySelector('nav a[href="/profile"]').click())),
    );
    await Promise.all([page, tab2].map((p) => visible(p.getByTestId("profile-email").filter({ hasText: email }))));
    for (const tab of ["tab1", "tab2"]) {
      const seq = rpcs
        .slice(mark)
        .filter((r) => r.tab === tab)
        .map((r) => `${r.method}:${r.status}`);
      equal(seq.join(" "), "Me:401 Refresh:200 Me:200", `${tab} calls after expiry`);
    }
    await screenshot(page, "refreshed-profile");
    await screenshot(tab2, "refreshed-profile-tab2");

    step(`${name}: change password`);
    await page.bringToFront();
    await page.getByRole("link", { name: "Password", exact: true }).click();
    await page.getByLabel("Current password").fill("not the password");
    await page.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
    await page.getByLabel("Confirm new password").fill("a brand new passphrase");
    await page.getByRole("button", { name: "Change password" }).click();
    await visible(page.getByRole("alert").filter({ hasText: "Your current password is incorrect." }));
    await screenshot(page, "password-wrong");
    await page.getByLabel("Current password").fill(password);
    await page.getByLabel("Current password").press("Enter");
    await visible(page.getByText("Password changed."));
    await screenshot(page, "password-changed");

    step(`${name}: log out`);
    const lastRefresh = await page.evaluate(() => localStorage.getItem("authgw.refreshToken"));
    if (!lastRefresh) throw new Error("no refresh token in localStorage before logout");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL("**/login");
    await visible(page.getByText("You have been logged out."));
    equal(await page.evaluate(() => localStorage.getItem("authgw.refreshToken")), null, "refresh token after logout");
    await tab2.waitForURL("**/login"); // the other tab follows
    await screenshot(page, "logged-out");
    await rejected(apiOrigin, lastRefresh, "the logged-out session's refresh token");
    await page.goto("/profile");
    await page.waitForURL("**/login"); // signed-out users cannot see the profile

    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join("; ")}`);
  } catch (err) {
    await page.screenshot({ path: path.join(dir, "failure.png"), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

/**
 * errorMessages checks the messages for the codes a journey cannot provoke
 * on demand: resource_exhausted and deadline_exceeded are answered by a
 * stand-in for the gateway (in the gateway's own wire format), unavailable
 * by the real gateway once the auth service is stopped.
 */
async function errorMessages(browser, { name, appOrigin, apiOrigin }, authsvc) {
  const dir = path.join(resultsDir, name);
  await mkdir(dir, { recursive: true });
  const context = await browser.newContext({ baseURL: appOrigin, viewport: { width: 1100, height: 760 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  try {
    await page.goto("/login");
    await page.getByLabel("Email").fill("grace@example.com");
    await page.getByLabel("Password").fill(password);
    const cases = [
      {
        label: "too-many-attempts",
        status: 429,
        code: "resource_exhausted",
        message: "too many requests, try again shortly",
        want: "Too many attempts right now. Please wait a moment and try again.",
      },
      {
        label: "timeout",
        status: 504,
        code: "deadline_exceeded",
        message: "deadline exceeded",
        want: "The server took too long to answer. Please try again.",
      },
    ];
    for (const c of cases) {
      step(`${name}: ${c.code}`);
      const login = `${apiOrigin}/auth.v1.AuthService/Login`;
      await page.route(login, (route) =>
        route.request().method() === "OPTIONS"
          ? route.continue()
          : route.fulfill({
              status: c.status,
              contentType: "application/json",
              headers: { "Access-Control-Allow-Origin": appOrigin, "Access-Control-Allow-Credentials": "true" },
              body: JSON.stringify({ code: c.code, message: c.message }),
            }),
      );
      await page.getByRole("button", { name: "Log in" }).click();
      await visible(page.getByRole("alert").filter({ hasText: c.want }));
      await page.screenshot({ path: path.join(dir, `${c.label}.png`), fullPage: true });
      await page.unroute(login);
    }
    step(`${name}: unavailable (auth service stopped)`);
    await authsvc.stop();
    await page.getByRole("button", { name: "Log in" }).click();
    await visible(
      page.getByRole("alert").filter({ hasText: "The service is unavailable right now. Please try again shortly." }),
    );
    await page.screenshot({ path: path.join(dir, "unavailable.png"), fullPage: true });
  } catch (err) {
    await page.screenshot({ path: path.join(dir, "failure.png"), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

async function newPage(context, tab, rpcs, pageErrors) {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${tab}: ${e.message}`));
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) pageErrors.push(`${tab}: ${m.text()}`);
  });
  page.on("response", (r) => {
    const u = new URL(r.url());
    if (!u.pathname.startsWith("/auth.v1.AuthService/")) return;
    rpcs.push({
      tab,
      method: u.pathname.split("/").pop(),
      status: r.status(),
      origin: u.origin,
      allowOrigin: r.headers()["access-control-allow-origin"],
    });
  });
  return page;
}

async function heading(page, text) {
  await visible(page.getByRole("heading", { name: text, level: 1 }));
}

async function visible(locator) {
  await locator.first().waitFor({ state: "visible" });
}

function equal(got, want, what) {
  if (got !== want) throw new Error(`${what} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

/** rpc makes a Connect JSON call the way curl would. */
async function rpc(origin, method, body, headers = {}) {
  const res = await fetch(`${origin}/auth.v1.AuthService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function rejected(origin, refreshToken, what) {
  const res = await fetch(`${origin}/auth.v1.AuthService/Refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refreshToken }),
  });
  const json = await res.json().catch(() => ({}));
  if (res.status !== 401 || json.code !== "unauthenticated") {
    throw new Error(`Refresh with ${what}: HTTP ${res.status} ${JSON.stringify(json)}, want 401 unauthenticated`);
  }
}

function goBuild(pkg, out) {
  return promisify(execFile)(goBin, ["build", "-o", out, pkg], { cwd: repoDir }).catch((err) => {
    throw new Error(`go build ${pkg}: ${err.stderr || err.message}`);
  });
}

async function viteBuild(outDir, apiUrl) {
  // import.meta.env takes VITE_ variables from the environment.
  if (apiUrl) process.env.VITE_API_URL = apiUrl;
  else delete process.env.VITE_API_URL;
  try {
    await build({
      root: webDir,
      configFile: path.join(webDir, "vite.config.ts"),
      logLevel: "warn",
      build: { outDir, emptyOutDir: true },
    });
  } finally {
    delete process.env.VITE_API_URL;
  }
}

/** start runs a binary with extra environment, its output in test-results/<name>.log. */
function start(name, bin, env) {
  const log = createWriteStream(path.join(resultsDir, `${name}.log`));
  const child = spawn(bin, [], { cwd: repoDir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let expected = false;
  child.once("exit", (code, signal) => {
    if (!expected && !stopping)
      console.error(`journey: ${name} exited early (code ${code}, signal ${signal}); see test-results/${name}.log`);
  });
  const stop = async () => {
    expected = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  cleanups.push(async () => {
    await stop();
    log.end();
  });
  return { stop };
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`journey: cleanup: ${err?.message ?? err}`);
    }
  }
  if (code > 1) console.log("journey: interrupted");
  console.log(
    `journey: ${passes} passed, ${failures} failed (${secs(Date.now() - started)}; screenshots and logs in web/test-results/)`,
  );
  process.exit(code);
}

async function waitHTTP(url, name) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready at ${url} after 20s; see test-results/${name}.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function freePorts(n) {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          const s = net.createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function step(text) {
  console.log(`--- ${text} (${secs(Date.now() - started)})`);
}

function secs(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}
