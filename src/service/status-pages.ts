/**
 * HTML of the table pages and the search page (data from ./status-tables.ts). Values are
 * escaped through ./html.ts; links carry their query values URL-encoded. Each page is a
 * static snapshot: `before` pages to older rows.
 */
import { esc, link, page, short, table } from "./html.js";
import type {
  listAccounts,
  listAddresses,
  listNetworkTransactions,
  listTransactions,
  listWallets,
  Page,
  PageQuery,
  TableName,
} from "./status-tables.js";

type Rows<F extends (...args: never[]) => Promise<Page<unknown & { id: number }>>> = Awaited<
  ReturnType<F>
>["rows"];

const time = (ms: number | null | undefined) =>
  ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
/** A value that opens the transactions it names (a txid, an address, an account). */
const searchLink = (q: string | number | null | undefined, text: string, path = "/transactions") =>
  q === null || q === undefined ? "" : link(path, { q }, text);
const num = (value: unknown) => `<td class="num">${esc(value)}</td>`;

const RENDERERS = {
  wallets: {
    title: "Wallets",
    headers: ["#Id", "Coin", "Name", "#Accounts", "#Balance", "Created"],
    row: (w: Rows<typeof listWallets>[number]) =>
      `<tr data-id="${esc(w.id)}">${num(w.id)}<td>${esc(w.coin.toUpperCase())}</td><td>${esc(w.name)}</td>${num(w.accounts)}${num(w.balance)}<td>${esc(time(w.created_at))}</td></tr>`,
  },
  accounts: {
    title: "Accounts",
    headers: ["#Id", "Coin", "Wallet", "Name", "Kind", "#Balance", "#Addresses", "Created"],
    row: (a: Rows<typeof listAccounts>[number]) =>
      `<tr data-id="${esc(a.id)}">${num(a.id)}<td>${esc(a.coin.toUpperCase())}</td><td>${esc(a.wallet)}</td><td>${searchLink(a.id, a.name)}</td><td>${esc(a.kind)}</td>${num(a.balance)}<td class="num">${searchLink(a.id, String(a.addresses), "/addresses")}</td><td>${esc(time(a.created_at))}</td></tr>`,
  },
  addresses: {
    title: "Addresses",
    headers: ["#Id", "Coin", "Address", "Account", "Label", "#Balance", "Archived", "Created"],
    row: (d: Rows<typeof listAddresses>[number]) =>
      `<tr data-id="${esc(d.id)}">${num(d.id)}<td>${esc(d.coin.toUpperCase())}</td><td><code>${searchLink(d.address, d.address)}</code></td><td>${d.account_id === null ? '<span class="muted">external</span>' : searchLink(d.account_id, d.account ?? String(d.account_id), "/accounts")}</td><td>${esc(d.label)}</td>${num(d.balance)}<td>${esc(time(d.archived_at))}</td><td>${esc(time(d.created_at))}</td></tr>`,
  },
  transactions: {
    title: "Transactions",
    headers: [
      "#Id",
      "Coin",
      "Type",
      "State",
      "#Amount",
      "Txid",
      "#Conf.",
      "Address",
      "From",
      "To",
      "Label",
      "Created",
      "Credited",
    ],
    row: (t: Rows<typeof listTransactions>[number]) =>
      `<tr data-id="${esc(t.id)}" data-txid="${esc(t.txid)}">${num(t.id)}<td>${esc(t.coin.toUpperCase())}</td><td>${esc(t.type)}</td><td>${esc(t.state)}</td>${num(t.amount)}<td>${t.txid ? searchLink(t.txid, short(t.txid, 16), "/network_transactions") : ""}</td>${num(t.confirmations ?? "")}<td>${t.address ? `<code>${searchLink(t.address, t.address)}</code>` : ""}</td><td>${searchLink(t.sending_account_id, t.sending_account ?? "", "/accounts")}</td><td>${searchLink(t.receiving_account_id, t.receiving_account ?? "", "/accounts")}</td><td>${esc(t.label)}</td><td>${esc(time(t.created_at))}</td><td>${esc(time(t.credited_at))}</td></tr>`,
  },
  network_transactions: {
    title: "Network transactions",
    headers: [
      "#Id",
      "Coin",
      "Txid",
      "Type",
      "#Confirmations",
      "#Block",
      "#Fee",
      "Tracked",
      "Opened",
      "Closed",
      "Created",
    ],
    row: (n: Rows<typeof listNetworkTransactions>[number]) =>
      `<tr data-id="${esc(n.id)}" data-txid="${esc(n.txid)}">${num(n.id)}<td>${esc(n.coin.toUpperCase())}</td><td>${n.txid ? searchLink(n.txid, short(n.txid, 24)) : '<span class="muted">not sent yet</span>'}</td><td>${esc(n.transaction_type)}</td>${num(n.confirmations)}${num(n.block_height ?? "")}${num(n.fee ?? "")}<td>${n.tracked ? "yes" : "final"}</td><td>${esc(time(n.opened_at))}</td><td>${esc(time(n.closed_at))}</td><td>${esc(time(n.created_at))}</td></tr>`,
  },
} as const;

type AnyRow = Record<string, unknown> & { id: number };

function rowsTable(name: TableName, rows: readonly AnyRow[], empty: string): string {
  // Each renderer takes the rows of its own list: the name ties them together.
  const renderer = RENDERERS[name] as { headers: readonly string[]; row: (row: never) => string };
  return table(
    [...renderer.headers],
    rows.map((row) => renderer.row(row as never)),
    empty,
  );
}

/** One table page: the rows, a pager to older rows, and a JSON link for the same query. */
export function renderTablePage(name: TableName, result: Page<AnyRow>, query: PageQuery): string {
  const { title } = RENDERERS[name];
  const path = `/${name}`;
  const filter = query.q
    ? `<p>matching <code>${esc(query.q)}</code> · ${link(path, {}, "show all")}</p>`
    : "";
  const pager = [
    query.before ? link(path, { q: query.q, limit: query.limit }, "« newest") : "",
    result.next !== null
      ? link(path, { q: query.q, limit: query.limit, before: result.next }, "older »")
      : "",
    link(`${path}.json`, { q: query.q, limit: query.limit, before: query.before }, "JSON"),
  ]
    .filter(Boolean)
    .join(" · ");
  const body = `${filter}${rowsTable(name, result.rows, query.q ? "Nothing matches." : "None yet.")}<p class="pager">${pager}</p>`;
  return page(title, body, { query: query.q ?? "" });
}

/** The search page: what a txid, an address or an account names, in each table that has it. */
export function renderSearchPage(q: string, results: Array<[TableName, Page<AnyRow>]>): string {
  const sections = results
    .map(([name, result]) => {
      const more = result.next !== null ? `<p>${link(`/${name}`, { q }, "more…")}</p>` : "";
      return `<h2>${esc(RENDERERS[name].title)}</h2>${rowsTable(name, result.rows, "Nothing matches.")}${more}`;
    })
    .join("\n");
  const body =
    q === ""
      ? "<p>Search by txid, address, or account (name or id).</p>"
      : `<p>Results for <code>${esc(q)}</code></p>${sections}`;
  return page("Search", body, { query: q });
}
