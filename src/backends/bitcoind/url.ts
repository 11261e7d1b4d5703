import { BackendError } from "../../errors.js";
/**
 * The daemon's RPC URL, split into what goes on the wire and what may be shown. The
 * credentials travel only in the Authorization header; everything printable (logs, error
 * messages, the status page) uses the masked form `http://user:***@host:port/wallet/ours`.
 */

export interface RpcEndpoint {
  /** URL without credentials, including the `/wallet/<name>` path when one is used. */
  url: URL;
  /** `Basic …` header value, or undefined when the URL carries no credentials. */
  authorization: string | undefined;
  /** The URL for humans: the password replaced by `***`. */
  masked: string;
}

/** Mask the password of any URL (`http://user:pw@host/` → `http://user:***@host/`); other text is returned as is. */
export function maskUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return text.replace(/(\/\/[^:/@\s]*:)[^@/\s]*@/, "$1***@");
  }
}

/**
 * Parse `http://user:pw@host:port/` (optionally ending in `/wallet/<name>`). `wallet`, when
 * given, replaces the URL's wallet path: multiwallet daemons need it for every wallet call.
 */
export function parseRpcUrl(text: string, wallet?: string): RpcEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BackendError(`bitcoind RPC URL ${JSON.stringify(maskUrl(text))} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BackendError(`bitcoind RPC URL ${maskUrl(text)} must start with http:// or https://`);
  }
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization =
    user || password ? `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}` : undefined;
  if (wallet !== undefined) url.pathname = `/wallet/${encodeURIComponent(wallet)}`;
  else if (url.pathname === "") url.pathname = "/";
  const masked = new URL(url.toString());
  if (masked.password) masked.password = "***";
  url.username = "";
  url.password = "";
  return { url, authorization, masked: masked.toString() };
}
