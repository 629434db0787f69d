// Readable messages for failed calls, derived from Connect codes. The server's
// own message is shown only for invalid_argument, whose messages are written
// for people ("password must be at least 8 characters").
import { Code, ConnectError } from "@connectrpc/connect";

/** Where a call was made: the same code reads differently in each place. */
export type ErrorContext = "login" | "register" | "session" | "change-password";

/** describeError turns any thrown value into a sentence for the user. */
export function describeError(err: unknown, context: ErrorContext = "session"): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unauthenticated:
      return context === "login" ? "Incorrect email or password." : "Your session has ended. Please log in again.";
    case Code.AlreadyExists:
      return context === "register"
        ? "An account with this email already exists. Try logging in instead."
        : "That already exists.";
    case Code.InvalidArgument:
      return invalidArgument(e.rawMessage);
    case Code.ResourceExhausted:
      return "Too many attempts right now. Please wait a moment and try again.";
    case Code.Unavailable:
      return "The service is unavailable right now. Please try again shortly.";
    case Code.DeadlineExceeded:
      return "The server took too long to answer. Please try again.";
    case Code.PermissionDenied:
      return "You don't have permission to do that.";
    case Code.NotFound:
      return "That session no longer exists. The list has been refreshed.";
    case Code.Canceled:
      return "The request was cancelled.";
    case Code.Unknown:
      // fetch failures (server down, CORS refused, offline) surface as unknown.
      if (/fetch|network|load failed/i.test(e.rawMessage)) {
        return "Can't reach the server. Check your connection and try again.";
      }
      return "Something went wrong. Please try again.";
    default:
      return "Something went wrong. Please try again.";
  }
}

function invalidArgument(raw: string): string {
  if (raw === "current_password is incorrect") {
    return "Your current password is incorrect.";
  }
  // The service names fields in snake_case; people read words.
  const text = raw.replace(/\b(current|new)_password\b/g, "$1 password").trim();
  if (!text) return "Please check the form and try again.";
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

/** isCode reports whether err is a Connect error with the given code. */
export function isCode(err: unknown, code: Code): boolean {
  return err instanceof ConnectError && err.code === code;
}
