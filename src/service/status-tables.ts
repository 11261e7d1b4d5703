/**
 * The status server's table pages (the original's /accounts, /addresses, /transactions,
 * /network_transactions, /wallets): read-only, newest first, paged by key (`before` = the
 * last id shown, so a page costs the same at row 10 and row 10 million), at most
 * MAX_PAGE_SIZE rows, and searchable by txid, address and account. Amounts are decimal
 * strings of the wallet's coin. Plain statements outside any serializable transaction, as
 * ./status-queries.ts: a status page must never hold locks the chain follower waits on.
 */

import { formatAmount } from "../coins/amount.js";
import { canonicalAddressOfAnyCoin, getCoin } from "../coins/registry.js";
import type { Database } from "../db/open.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
export const TABLES = ["accounts", "addresses", "transactions", "network_transactions", "wallets"] as const;
export type TableName = (typeof TABLES)[number];

export interface PageQuery {
  /** A txid, an address, or an account (name or id). */
  q?: string;
  /** Rows with a smaller id than this (the `next` cursor of the previous page). */
  before?: number;
  limit?: number;
}

export interface Page<Row> {
  rows: Row[];
  /** The `before` of the next page, or null on the last one. */
  next: number | null;
}

function money(coin: string, units: bigint | null): string | null {
  if (units === null) return null;
  let decimals = 8;
  try {
    decimals = getCoin(coin).decimals;
  } catch {
    // A wallet of a coin this build does not know: shown with bitcoin's precision.
  }
  return formatAmount(units, decimals);
}

/** Validated page parameters: a size within bounds, a positive cursor, a trimmed search. */
export function pageQuery(raw: Record<string, unknown>): Required<Pick<PageQuery, "limit">> & PageQuery {
  const text = (key: string) => (typeof raw[key] === "string" ? (raw[key] as string) : undefined);
  const whole = (value: string | undefined) =>
    value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
  const limit = Math.min(MAX_PAGE_SIZE, Math.max(1, whole(text("limit")) ?? DEFAULT_PAGE_SIZE));
  const q = text("q")?.trim().slice(0, 200);
  const before = whole(text("before"));
  return { limit, ...(q ? { q } : {}), ...(before !== undefined && before > 0 ? { before } : {}) };
}

/** Newest first from the cursor on, one row more than the page to know whether another follows. */
async function paged<Row extends { id: number }>(
  query: { execute(): Promise<Row[]> },
  limit: number,
): Promise<Page<Row>> {
  const rows = await query.execute();
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return { rows: shown, next: more ? (shown[shown.length - 1]?.id ?? null) : null };
}

/** The accounts a search names: by id (digits) or exact name; [-1] (no row) when none. */
async function accountIds(database: Database, q: string): Promise<number[]> {
  const rows = await database.db
    .selectFrom("ca_account")
    .select("id")
    .where((eb) =>
      /^\d{1,15}$/.test(q) ? eb.or([eb("id", "=", Number(q)), eb("name", "=", q)]) : eb("name", "=", q),
    )
    .limit(MAX_PAGE_SIZE)
    .execute();
  return rows.length > 0 ? rows.map((row) => row.id) : [-1];
}

export async function listWallets(database: Database, query: PageQuery) {
  let select = database.db.selectFrom("ca_wallet as w").select((eb) => [
    "w.id",
    "w.coin",
    "w.name",
    "w.created_at",
    eb
      .selectFrom("ca_account as a")
      .select(({ fn }) => fn.countAll<number>().as("count"))
      .whereRef("a.wallet_id", "=", "w.id")
      .as("accounts"),
    eb
      .selectFrom("ca_account as a")
      .select(({ fn }) => fn.sum<bigint>("a.balance").as("sum_balance"))
      .whereRef("a.wallet_id", "=", "w.id")
      .as("sum_balance"),
  ]);
  if (query.q)
    select = select.where((eb) =>
      eb.or([eb("w.coin", "=", query.q as string), eb("w.name", "=", query.q as string)]),
    );
  if (query.before) select = select.where("w.id", "<", query.before);
  const page = await paged(
    select.orderBy("w.id", "desc").limit((query.limit ?? DEFAULT_PAGE_SIZE) + 1),
    query.limit ?? DEFAULT_PAGE_SIZE,
  );
  return {
    ...page,
    rows: page.rows.map(({ sum_balance, accounts, ...row }) => ({
      ...row,
      accounts: Number(accounts ?? 0),
      balance: money(row.coin, sum_balance ?? 0n),
    })),
  };
}

export async function listAccounts(database: Database, query: PageQuery) {
  let select = database.db
    .selectFrom("ca_account as a")
    .innerJoin("ca_wallet as w", "w.id", "a.wallet_id")
    .select((eb) => [
      "a.id",
      "w.coin",
      "w.name as wallet",
      "a.name",
      "a.kind",
      "a.balance",
      "a.created_at",
      eb
        .selectFrom("ca_address as d")
        .select(({ fn }) => fn.countAll<number>().as("count"))
        .whereRef("d.account_id", "=", "a.id")
        .as("addresses"),
    ]);
  if (query.q) {
    const q = query.q;
    const ids = await accountIds(database, q);
    select = select.where((eb) =>
      eb.or([
        eb("a.id", "in", ids),
        eb(
          "a.id",
          "in",
          eb
            .selectFrom("ca_address")
            .select("account_id")
            .where("address", "=", canonicalAddressOfAnyCoin(q)),
        ),
      ]),
    );
  }
  if (query.before) select = select.where("a.id", "<", query.before);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const page = await paged(select.orderBy("a.id", "desc").limit(limit + 1), limit);
  return {
    ...page,
    rows: page.rows.map(({ balance, addresses, ...row }) => ({
      ...row,
      addresses: Number(addresses ?? 0),
      balance: money(row.coin, balance),
    })),
  };
}

export async function listAddresses(database: Database, query: PageQuery) {
  let select = database.db
    .selectFrom("ca_address as d")
    .innerJoin("ca_wallet as w", "w.id", "d.wallet_id")
    .leftJoin("ca_account as a", "a.id", "d.account_id")
    .select([
      "d.id",
      "w.coin",
      "d.address",
      "d.account_id",
      "a.name as account",
      "d.label",
      "d.balance",
      "d.archived_at",
      "d.created_at",
    ]);
  if (query.q) {
    const q = query.q;
    const ids = await accountIds(database, q);
    select = select.where((eb) =>
      eb.or([eb("d.address", "=", canonicalAddressOfAnyCoin(q)), eb("d.account_id", "in", ids)]),
    );
  }
  if (query.before) select = select.where("d.id", "<", query.before);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const page = await paged(select.orderBy("d.id", "desc").limit(limit + 1), limit);
  return {
    ...page,
    rows: page.rows.map(({ balance, ...row }) => ({ ...row, balance: money(row.coin, balance) })),
  };
}

export async function listTransactions(database: Database, query: PageQuery) {
  let select = database.db
    .selectFrom("ca_transaction as t")
    .innerJoin("ca_wallet as w", "w.id", "t.wallet_id")
    .leftJoin("ca_network_transaction as n", "n.id", "t.network_transaction_id")
    .leftJoin("ca_address as d", "d.id", "t.address_id")
    .leftJoin("ca_account as s", "s.id", "t.sending_account_id")
    .leftJoin("ca_account as r", "r.id", "t.receiving_account_id")
    .select([
      "t.id",
      "w.coin",
      "t.type",
      "t.state",
      "t.amount",
      "n.txid",
      "n.confirmations",
      "d.address",
      "t.sending_account_id",
      "s.name as sending_account",
      "t.receiving_account_id",
      "r.name as receiving_account",
      "t.label",
      "t.created_at",
      "t.credited_at",
      "t.processed_at",
    ]);
  if (query.q) {
    const q = query.q;
    const ids = await accountIds(database, q);
    select = select.where((eb) =>
      eb.or([
        eb("n.txid", "=", q),
        eb("d.address", "=", canonicalAddressOfAnyCoin(q)),
        eb("t.sending_account_id", "in", ids),
        eb("t.receiving_account_id", "in", ids),
      ]),
    );
  }
  if (query.before) select = select.where("t.id", "<", query.before);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const page = await paged(select.orderBy("t.id", "desc").limit(limit + 1), limit);
  return {
    ...page,
    rows: page.rows.map(({ amount, ...row }) => ({ ...row, amount: money(row.coin, amount) })),
  };
}

export async function listNetworkTransactions(database: Database, query: PageQuery) {
  let select = database.db
    .selectFrom("ca_network_transaction as n")
    .innerJoin("ca_wallet as w", "w.id", "n.wallet_id")
    .select([
      "n.id",
      "w.coin",
      "n.txid",
      "n.transaction_type",
      "n.confirmations",
      "n.block_height",
      "n.fee",
      "n.tracked",
      "n.opened_at",
      "n.closed_at",
      "n.created_at",
    ]);
  if (query.q) {
    const q = query.q;
    select = select.where((eb) =>
      eb.or([
        eb("n.txid", "=", q),
        eb(
          "n.id",
          "in",
          eb
            .selectFrom("ca_transaction as t")
            .innerJoin("ca_address as d", "d.id", "t.address_id")
            .select("t.network_transaction_id")
            .where("d.address", "=", canonicalAddressOfAnyCoin(q)),
        ),
      ]),
    );
  }
  if (query.before) select = select.where("n.id", "<", query.before);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const page = await paged(select.orderBy("n.id", "desc").limit(limit + 1), limit);
  return {
    ...page,
    rows: page.rows.map(({ fee, tracked, ...row }) => ({
      ...row,
      fee: money(row.coin, fee),
      tracked: tracked === 1,
    })),
  };
}

export const LISTS = {
  wallets: listWallets,
  accounts: listAccounts,
  addresses: listAddresses,
  transactions: listTransactions,
  network_transactions: listNetworkTransactions,
} satisfies Record<TableName, (database: Database, query: PageQuery) => Promise<Page<{ id: number }>>>;
