/**
 * HTML pieces shared by the dashboard and the table pages of the status server. Every value
 * from the database, the daemon or the configuration goes through `esc()`: txids, addresses,
 * labels, account names and error messages are all data someone else controls.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function esc(value: unknown): string {
  if (value === null || value === undefined) return "";
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function short(hash: string | null | undefined, keep = 12): string {
  if (!hash) return "";
  return hash.length > keep + 1 ? `${hash.slice(0, keep)}…` : hash;
}

export function badge(text: string, kind: "ok" | "warn" | "bad" | "info"): string {
  return `<span class="badge ${kind}">${esc(text)}</span>`;
}

/** Headers starting with "#" head a numeric (right-aligned) column; the "#" is not shown. */
export function table(headers: string[], rows: string[], empty: string): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  const head = headers
    .map((h) => (h.startsWith("#") ? `<th class="num">${esc(h.slice(1))}</th>` : `<th>${esc(h)}</th>`))
    .join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** A link whose query values are URL-encoded and whose whole href is HTML-escaped. */
export function link(path: string, query: Record<string, string | number | undefined>, text: string): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const href = params.size > 0 ? `${path}?${params}` : path;
  return `<a href="${esc(href)}">${esc(text)}</a>`;
}

export const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px}header h1{margin:0;font-size:18px}
nav{display:flex;flex-wrap:wrap;gap:14px;align-items:center;margin-top:6px}nav a{color:#c7d2fe}
nav form{margin-left:auto}nav input{font-size:13px;width:22em}
main{padding:10px 20px 40px}h2{font-size:15px;margin:22px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7ec;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,monospace}.muted{color:#6b7280}.err{color:#b42318}.empty{color:#6b7280;margin:4px 0}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;font-weight:600}
.ok{background:#d1fadf;color:#05603a}.warn{background:#fef0c7;color:#93370d}.bad{background:#fee4e2;color:#b42318}.info{background:#e0eaff;color:#1d3f8f}
.problems{margin:4px 0;color:#b42318}button{font-size:12px}.pager{margin:8px 0}`;

/** The pages of the status server, in the order of the navigation bar (the original's paths). */
export const PAGES = [
  ["/", "Main"],
  ["/accounts", "Accounts"],
  ["/addresses", "Addresses"],
  ["/transactions", "Transactions"],
  ["/network_transactions", "Network transactions"],
  ["/wallets", "Wallets"],
] as const;

function nav(query: string): string {
  const links = PAGES.map(([path, name]) => `<a href="${path}">${esc(name)}</a>`).join("");
  return `<nav>${links}<form action="/search" method="get" role="search"><input type="search" name="q" value="${esc(query)}" placeholder="txid, address or account" aria-label="Search by txid, address or account"> <button type="submit">Search</button></form></nav>`;
}

/** A whole page: title ("" for the dashboard), navigation with the search box, the body, an optional inline script. */
export function page(title: string, body: string, options: { query?: string; script?: string } = {}): string {
  const name = title === "" ? "cryptoassets helper service" : `${title} · cryptoassets helper service`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(name)}</title><style>${STYLE}</style></head>
<body><header><h1>${esc(name)}</h1>${nav(options.query ?? "")}</header>
<main id="main">${body}</main>${options.script ? `\n<script>${options.script}</script>` : ""}</body></html>`;
}
