// Entry point: wires the session, the Connect clients and the screens.
import "./style.css";
import { Code } from "@connectrpc/connect";
import { createClients } from "./api";
import { startApp, type Flash, type Route } from "./app";
import { isCode } from "./errors";
import { Session } from "./session";
import { login } from "./views/login";
import { password } from "./views/password";
import { profile } from "./views/profile";
import { register } from "./views/register";
import { sessions } from "./views/sessions";

const routes: Record<string, Route> = {
  "/login": { title: "Log in", screen: login, auth: "guest" },
  "/register": { title: "Create account", screen: register, auth: "guest" },
  "/profile": { title: "Profile", screen: profile, auth: "user", nav: "Profile" },
  "/sessions": { title: "Sessions", screen: sessions, auth: "user", nav: "Sessions" },
  "/password": { title: "Change password", screen: password, auth: "user", nav: "Password" },
};

async function main() {
  const session = new Session();
  const clients = createClients(session.interceptor());
  session.attach(clients.publicClient);
  // A stored refresh token means a session from an earlier visit or another
  // tab: trade it for an access token before the first screen. A refused
  // token clears the session; an outage leaves it for the next call to retry.
  let flash: Flash | undefined;
  if (session.signedIn) {
    await session.refresh().catch((err) => {
      if (isCode(err, Code.Unauthenticated))
        flash = { kind: "info", text: "Your session has ended. Please log in again." };
    });
  }
  startApp(document.getElementById("app")!, session, clients, routes, flash);
}

void main();
