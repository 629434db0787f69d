// Human-friendly dates and device names.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** formatDate renders a timestamp as a date and time, or a dash when missing. */
export function formatDate(ts: Timestamp | undefined, withTime = true): string {
  if (!ts) return "—";
  const d = timestampDate(ts);
  return withTime ? dateTime.format(d) : dateOnly.format(d);
}

/** formatAgo renders a timestamp relative to now: "just now", "5 minutes ago". */
export function formatAgo(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  const seconds = Math.round((timestampDate(ts).getTime() - Date.now()) / 1000);
  if (Math.abs(seconds) < 45) return "just now";
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["minute", 60],
    ["hour", 3600],
    ["day", 86400],
  ];
  let [unit, size] = units[0];
  for (const u of units) if (Math.abs(seconds) >= u[1]) [unit, size] = u;
  return relative.format(Math.round(seconds / size), unit);
}

/** deviceName guesses "Chrome on Linux" from a User-Agent string. */
export function deviceName(ua: string): string {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /(Chrome|Chromium|HeadlessChrome)\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : /^grpc-|connect-go|Go-http-client/.test(ua)
            ? "API client"
            : null;
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Android/.test(ua)
      ? "Android"
      : /iPhone|iPad/.test(ua)
        ? "iOS"
        : /Mac OS X/.test(ua)
          ? "macOS"
          : /Linux/.test(ua)
            ? "Linux"
            : null;
  if (browser && os) return `${browser} on ${os}`;
  if (browser) return browser;
  // Unknown clients: their product token ("curl/8.5.0" → "curl").
  return ua.split(/[\s/]/)[0] || "Unknown device";
}
