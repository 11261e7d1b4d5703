/**
 * URLs with credentials — the database, the daemon, webhooks — and how to print them. One
 * function masks every URL the service shows (logs, errors, /status.json, the dashboard, the
 * CLI), and one says what is wrong with a URL without repeating it.
 *
 * Masking reads the URL's parts instead of pattern-matching a password: the userinfo ends
 * at the last `@` before the host (a password may contain `@`, WHATWG parsers agree), the
 * password is everything after the user name's `:`, every query value is hidden (tokens and
 * `?password=` travel there; which parameters are harmless we cannot know), and so is the
 * fragment. A text that does not parse as a URL is never echoed, even masked: a typo in a
 * password is still the password.
 */

/** Printed instead of a URL that does not parse. */
export const UNPARSEABLE_URL = "(a URL that does not parse; not shown)";

const MASK = "***";
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:)\/\/(.*)$/s;

interface UrlParts {
  scheme: string;
  /** Everything between `//` and the last `@` before the host, or undefined without one. */
  userinfo: string | undefined;
  /** Host, port and path. */
  location: string;
  query: string | undefined;
  fragment: string | undefined;
}

/** Splits `scheme://userinfo@host/path?query#fragment` by the rules above; undefined without `scheme://`. */
function splitUrl(text: string): UrlParts | undefined {
  const match = SCHEME.exec(text);
  if (!match) return undefined;
  const [, scheme = "", rest = ""] = match;
  // The last @ of the whole text: a misplaced one further right hides more, never less.
  const at = rest.lastIndexOf("@");
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined;
  let tail = at >= 0 ? rest.slice(at + 1) : rest;
  let fragment: string | undefined;
  const hash = tail.indexOf("#");
  if (hash >= 0) {
    fragment = tail.slice(hash + 1);
    tail = tail.slice(0, hash);
  }
  let query: string | undefined;
  const question = tail.indexOf("?");
  if (question >= 0) {
    query = tail.slice(question + 1);
    tail = tail.slice(0, question);
  }
  return { scheme, userinfo, location: tail, query, fragment };
}

function parses(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `postgresql://app:s3cr@t@db/app?sslmode=require&password=x` →
 * `postgresql://app:***@db/app?sslmode=***&password=***`. A URL that does not parse becomes
 * UNPARSEABLE_URL. A `sqlite://` URL has no credentials and is left as it is.
 */
export function maskUrl(text: string): string {
  if (/^sqlite(\+\w+)?:\/\/(\/|:memory:|$|\?)/i.test(text)) return text;
  const parts = splitUrl(text);
  if (parts === undefined || !parses(text)) return UNPARSEABLE_URL;
  let shown = `${parts.scheme}//`;
  if (parts.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(":");
    const user = colon >= 0 ? parts.userinfo.slice(0, colon) : parts.userinfo;
    // A user name that holds URL delimiters is not a user name: the @ was misplaced.
    const userShown = /^[^/?#\s]*$/.test(user) ? user : MASK;
    shown += colon >= 0 ? `${userShown}:${MASK}@` : `${userShown}@`;
  }
  shown += parts.location;
  if (parts.query !== undefined) {
    shown += `?${parts.query
      .split("&")
      .map((pair) => {
        const equals = pair.indexOf("=");
        return equals >= 0 ? `${pair.slice(0, equals)}=${MASK}` : pair;
      })
      .join("&")}`;
  }
  if (parts.fragment !== undefined) shown += `#${MASK}`;
  return shown;
}

const ENCODE = "percent-encode / ? # @ % in the user name and password as %2F %3F %23 %40 %25";

/**
 * What is wrong with a URL that carries credentials, in words that never quote it, or
 * undefined when it is fine. Refused: text that does not parse, and text whose parts a
 * reader could split two ways — an `@` after the host's end (a password with a raw `/ ? #`
 * moves the host: `app:123#x@db` connects to host "app"), or a `%` in the credentials that
 * is not an escape.
 */
export function urlProblem(text: string): string | undefined {
  const parts = splitUrl(text);
  if (parts === undefined) return "it does not start with scheme://";
  if (!parses(text)) return text.includes("@") ? `it does not parse (${ENCODE})` : "it does not parse";
  const rest = text.slice(parts.scheme.length + 2);
  const authorityEnd = rest.search(/[/?#]/);
  if (authorityEnd >= 0 && rest.lastIndexOf("@") > authorityEnd) {
    return `an @ after the host makes it ambiguous (${ENCODE}; in a path or query write @ as %40)`;
  }
  if (parts.userinfo !== undefined && /%(?![0-9A-Fa-f]{2})/.test(parts.userinfo)) {
    return `a % in the user name or password is not an escape (${ENCODE})`;
  }
  return undefined;
}

/**
 * The values maskUrl hides — the password and the query and fragment values, as written and
 * decoded — for masking them in text that came back from outside (a receiver echoing the
 * request line, a broker quoting the credentials it was sent).
 */
export function urlSecrets(text: string): string[] {
  const parts = splitUrl(text);
  if (parts === undefined) return [];
  const values: string[] = [];
  if (parts.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(":");
    if (colon >= 0) values.push(parts.userinfo.slice(colon + 1));
  }
  for (const pair of parts.query?.split("&") ?? []) {
    const equals = pair.indexOf("=");
    if (equals >= 0) values.push(pair.slice(equals + 1));
  }
  if (parts.fragment !== undefined) values.push(parts.fragment);
  return withDecoded(values);
}

function withDecoded(values: readonly string[]): string[] {
  const all = new Set<string>();
  for (const value of values) {
    if (value === "") continue;
    all.add(value);
    try {
      all.add(decodeURIComponent(value.replace(/\+/g, " ")));
      all.add(decodeURIComponent(value));
    } catch {
      // Not valid percent-encoding: the value as written is all there is.
    }
  }
  return [...all];
}
