/**
 * The daemon's RPC URL, split into what goes on the wire and what may be shown. The
 * credentials travel only in the Authorization header; everything printable (logs, error
 * messages, the status page) uses the masked form `http://user:***@host:port/wallet/ours`.
 */
import { BackendError } from "../../errors.js";
import { maskUrl, urlProblem } from "../../redact/url.js";

export interface RpcEndpoint {
  /** URL without credentials, including the `/wallet/<name>` path when one is used. */
  url: URL;
  /** `Basic …` header value, or undefined when the URL carries no credentials. */
  authorization: string | undefined;
  /** The URL for humans: the password replaced by `***`. */
  masked: string;
}

/**
 * Parse `http://user:pw@host:port/` (optionally ending in `/wallet/<name>`). `wallet`, when
 * given, replaces the URL's wallet path: multiwallet daemons need it for every wallet call.
 */
export function parseRpcUrl(text: string, wallet?: string): RpcEndpoint {
  const problem = urlProblem(text);
  if (problem !== undefined) throw new BackendError(`bitcoind RPC URL is not a valid URL: ${problem}`);
  const url = new URL(text);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new BackendError(`bitcoind RPC URL ${maskUrl(text)} must start with http:// or https://`);
  }
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization =
    user || password ? `Basic ${Buffer.from(`${user}:${password}`, "utf8").toString("base64")}` : undefined;
  if (wallet !== undefined) url.pathname = `/wallet/${encodeURIComponent(wallet)}`;
  else if (url.pathname === "") url.pathname = "/";
  const masked = maskUrl(url.toString());
  url.username = "";
  url.password = "";
  return { url, authorization, masked };
}
