/**
 * `cryptoassets wallet <config> <subcommand> …`: accounts, addresses, sends, transactions and
 * balances from the command line, for operators and scripts (`--json`, amounts as decimal
 * strings). The database is migrated on first use, like the helper service does.
 */
import { type Command, InvalidArgumentError } from "commander";
import { formatAmount } from "../coins/amount.js";
import type { Ledger } from "../ledger/ledger.js";
import { type ReconciliationView, reconciliationView } from "../ledger/reconcile.js";
import { fail, formatTable, isoTime, toJson, withDatabase } from "./common.js";
import { openLedger, pickCoin, UsageError } from "./open-ledger.js";

interface WalletOptions {
  coin?: string;
  label?: string;
  account?: string;
  limit: number;
  confirmations: number;
  uncredited?: boolean;
  forceExternal?: boolean;
  json?: boolean;
}

/** Each subcommand, in the order `--help` lists them. */
const RUNNERS = {
  accounts,
  "create-account": createAccount,
  "create-address": createAddress,
  send,
  transactions,
  balance,
  received,
  "account-of": accountOf,
  deposits,
  recompute,
  label,
  reconcile,
  "import-balance": importBalance,
} satisfies Record<string, (context: WalletContext, args: string[]) => Promise<void>>;
type Subcommand = keyof typeof RUNNERS;
const SUBCOMMANDS = Object.keys(RUNNERS) as Subcommand[];

function reconciliationText(view: ReconciliationView, coin: string): string {
  const { daemon, ledger } = view;
  const lines = [
    `daemon wallet: trusted ${daemon.trusted}, untrusted pending ${daemon.untrusted_pending}, immature ${daemon.immature} ${coin}` +
      (daemon.block ? ` (block ${daemon.block.height})` : ""),
    `ledger owes:   ${ledger.owed} ${coin} = credited ${ledger.credited} + incoming ${ledger.incoming_confirmed} + mempool ${ledger.incoming_mempool} + pending sends ${ledger.pending_sends}` +
      ` (block ${ledger.block.height ?? "none"})`,
    `interrupted:   ${ledger.interrupted_sends} ${coin} in ${ledger.interrupted_broadcasts} broadcast(s)`,
    `unaccounted:   ${view.unaccounted} ${coin} (confirmed coins only: ${view.unaccounted_confirmed})`,
  ];
  if (view.status === "short") lines.push("status: SHORT — the ledger holds more than the daemon's wallet");
  else if (view.status === "unaccounted")
    lines.push(
      `status: the daemon holds ${view.importable} ${coin} the ledger does not know (import-balance <account> books it)`,
    );
  else lines.push("status: balanced");
  if (!view.ledger_at_daemon_block)
    lines.push("note: the ledger has not processed the daemon's last block yet");
  return lines.join("\n");
}

function wholeNumber(min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
    return n;
  };
}

/** The id of the --account given (by id or name), or undefined without one. */
async function accountOption(ledger: Ledger, options: WalletOptions): Promise<number | undefined> {
  return options.account ? (await ledger.getAccount(accountRef(options.account))).id : undefined;
}

/** Account by id (digits) or by name. */
const accountRef = (text: string): number | string => (/^\d+$/.test(text) ? Number(text) : text);

function need(args: string[], count: number, usage: string): string[] {
  if (args.length !== count) throw new UsageError(`usage: cryptoassets wallet <config> ${usage}`);
  return args;
}

export function registerWalletCommand(program: Command): void {
  program
    .command("wallet")
    .description(
      `accounts, addresses, sends and balances: wallet <config> ${SUBCOMMANDS.join(" | ")} (see --help)`,
    )
    .argument("<config>", "configuration YAML file")
    .argument("<subcommand>", SUBCOMMANDS.join(" | "))
    .argument(
      "[args...]",
      "create-account <name> · create-address <account> · send <account> <address> <amount> · received <address> · account-of <address> · label <transaction> <text> · import-balance <account>",
    )
    .option("--coin <name>", "which coin, when several are configured")
    .option("--label <text>", "label for create-address / send")
    .option("--account <account>", "transactions / balance of one account (id or name)")
    .option("--limit <n>", "transactions / deposits: at most this many (default 50)", wholeNumber(1), 50)
    .option(
      "--confirmations <n>",
      "received: count deposits with at least this many (default 0)",
      wholeNumber(0),
      0,
    )
    .option("--uncredited", "deposits: only those not credited yet")
    .option("--force-external", "send: through the network even to an address of this wallet")
    .option("--json", "machine-readable output (amounts as decimal strings)")
    .action(async (configPath: string, subcommand: string, args: string[], options: WalletOptions) => {
      if (!(SUBCOMMANDS as readonly string[]).includes(subcommand)) {
        fail(new Error(`unknown wallet subcommand ${subcommand}; use one of ${SUBCOMMANDS.join(", ")}`));
        return;
      }
      await withDatabase(configPath, async ({ config, database }) => {
        const coinName = pickCoin(config, options.coin);
        const { ledger, backend } = await openLedger(
          config,
          database,
          coinName,
          ["create-address", "reconcile", "import-balance"].includes(subcommand),
          subcommand === "send",
        );
        try {
          await RUNNERS[subcommand as Subcommand](walletContext(ledger, options), args);
        } finally {
          await backend?.close();
        }
      });
    });
}

/** What every subcommand uses: the ledger, the options, amounts as decimals, text or JSON output. */
interface WalletContext {
  ledger: Ledger;
  options: WalletOptions;
  money(units: bigint): string;
  print(json: unknown, text: () => string): void;
}

function walletContext(ledger: Ledger, options: WalletOptions): WalletContext {
  return {
    ledger,
    options,
    money: (units) => formatAmount(units, ledger.coin.decimals),
    print: (json, text) => console.log(options.json ? toJson(json) : text()),
  };
}

async function accounts({ ledger, money, print }: WalletContext, args: string[]): Promise<void> {
  need(args, 0, "accounts");
  const rows = (await ledger.listAccounts()).map((a) => ({
    id: a.id,
    name: a.name,
    kind: a.kind,
    balance: money(a.balance),
  }));
  print(rows, () => formatTable(rows, ["id", "name", "kind", "balance"]));
}

async function createAccount({ ledger, print }: WalletContext, args: string[]): Promise<void> {
  const [name] = need(args, 1, "create-account <name>");
  const account = await ledger.createAccount(name as string);
  print({ id: account.id, name: account.name }, () => `created account ${account.name} (#${account.id})`);
}

async function createAddress({ ledger, options, print }: WalletContext, args: string[]): Promise<void> {
  const [account] = need(args, 1, "create-address <account> [--label L]");
  const address = await ledger.createReceivingAddress(accountRef(account as string), {
    label: options.label,
  });
  print(
    { address: address.address, account: address.account_id, label: address.label },
    () => address.address,
  );
}

async function send({ ledger, options, money, print }: WalletContext, args: string[]): Promise<void> {
  const [from, to, amount] = need(args, 3, "send <account> <address> <amount>");
  const account = await ledger.getAccount(accountRef(from as string));
  const id = await ledger.send(account.id, to as string, amount as string, {
    label: options.label,
    forceExternal: options.forceExternal,
  });
  const tx = await ledger.getTransaction(id);
  const out = {
    transaction: id,
    type: tx.type,
    account: account.id,
    address: to,
    amount: money(tx.amount),
    state: tx.state,
    ...(tx.type === "internal" ? { to_account: tx.receiving_account_id } : {}),
  };
  print(out, () =>
    tx.type === "internal"
      ? `send #${id}: ${out.amount} ${ledger.coin.name} from ${account.name} to ${to}, an address of this wallet: transferred internally to account #${tx.receiving_account_id}, no network fee (--force-external to pay through the network)`
      : `send #${id}: ${out.amount} ${ledger.coin.name} from ${account.name} to ${to} is pending; the helper service broadcasts it`,
  );
}

async function transactions(context: WalletContext, args: string[]): Promise<void> {
  const { ledger, options, money, print } = context;
  need(args, 0, "transactions [--account A] [--limit N]");
  const accountId = await accountOption(ledger, options);
  const rows = (await ledger.listTransactions({ accountId, limit: options.limit })).map((t) => ({
    id: t.id,
    type: t.type,
    state: t.state,
    amount: money(t.amount),
    from: t.sending_account_id,
    to: t.receiving_account_id,
    label: t.label,
    created: isoTime(t.created_at),
  }));
  print(rows, () => formatTable(rows, ["id", "type", "state", "amount", "from", "to", "label", "created"]));
}

async function received({ ledger, options, money, print }: WalletContext, args: string[]): Promise<void> {
  const [address] = need(args, 1, "received <address> [--confirmations N]");
  const total = await ledger.getBalanceByConfirmations(address as string, options.confirmations);
  const out = { address, confirmations: options.confirmations, received: money(total) };
  print(
    out,
    () =>
      `${address}: ${out.received} ${ledger.coin.name} received in deposits with ≥ ${options.confirmations} confirmation(s)`,
  );
}

async function accountOf({ ledger, print }: WalletContext, args: string[]): Promise<void> {
  const [address] = need(args, 1, "account-of <address>");
  const account = await ledger.getAccountByAddress(address as string);
  if (account === undefined) {
    throw new UsageError(`${address} is not a receiving address of this ${ledger.coin.name} wallet`);
  }
  print({ id: account.id, name: account.name }, () => `${address}: account ${account.name} (#${account.id})`);
}

async function deposits({ ledger, options, money, print }: WalletContext, args: string[]): Promise<void> {
  need(args, 0, "deposits [--account A] [--uncredited] [--limit N]");
  const accountId = await accountOption(ledger, options);
  const rows = (
    await ledger.listDeposits({ accountId, uncredited: options.uncredited, limit: options.limit })
  ).map((d) => ({
    id: d.id,
    txid: d.txid,
    address: d.address,
    account: d.receiving_account_id,
    amount: money(d.amount),
    confirmations: d.confirmations,
    state: d.state,
    label: d.label,
  }));
  print(rows, () =>
    formatTable(rows, ["id", "txid", "address", "account", "amount", "confirmations", "state", "label"]),
  );
}

async function recompute({ ledger, options, money, print }: WalletContext, args: string[]): Promise<void> {
  need(args, 0, "recompute [--account A]");
  const accountId = await accountOption(ledger, options);
  const checks = await ledger.recomputeBalances(accountId);
  const rows = checks.map((check) => ({
    id: check.account.id,
    name: check.account.name,
    stored: money(check.stored),
    computed: money(check.computed),
    difference: money(check.difference),
  }));
  const differing = checks.filter((check) => check.difference !== 0n);
  print({ accounts: rows, differences: differing.length }, () =>
    [
      formatTable(rows, ["id", "name", "stored", "computed", "difference"]),
      differing.length === 0
        ? "every balance matches its transactions"
        : `${differing.length} account(s) differ from their transactions`,
    ].join("\n"),
  );
  if (differing.length > 0) process.exitCode = 1;
}

async function label({ ledger, print }: WalletContext, args: string[]): Promise<void> {
  const [id, text] = need(args, 2, "label <transaction> <text> (an empty text clears it)");
  if (!/^\d+$/.test(id as string)) throw new UsageError(`transaction id must be a number, got ${id}`);
  const newLabel = text === "" ? null : (text as string);
  await ledger.setTransactionLabel(Number(id), newLabel);
  print(
    { transaction: Number(id), label: newLabel },
    () =>
      `transaction #${id}: ${newLabel === null ? "label cleared" : `labelled ${JSON.stringify(newLabel)}`}`,
  );
}

async function reconcile({ ledger, print }: WalletContext, args: string[]): Promise<void> {
  need(args, 0, "reconcile");
  const r = await ledger.reconcile();
  const view = reconciliationView(r, ledger.coin.decimals);
  print(view, () => reconciliationText(view, ledger.coin.name));
  if (r.status === "short") process.exitCode = 1;
}

async function importBalance(context: WalletContext, args: string[]): Promise<void> {
  const { ledger, options, money, print } = context;
  const [account] = need(args, 1, "import-balance <account> [--label L]");
  const result = await ledger.importBalance(accountRef(account as string), { label: options.label });
  const out = {
    imported: money(result.imported),
    transaction: result.transactionId,
    reconciliation: reconciliationView(result.reconciliation, ledger.coin.decimals),
  };
  print(out, () =>
    result.transactionId === null
      ? `nothing unaccounted: the daemon holds what the ledger owes (${out.reconciliation.ledger.owed} ${ledger.coin.name}); nothing booked`
      : `imported ${out.imported} ${ledger.coin.name} on ${account} as balance_import #${result.transactionId}`,
  );
}

async function balance({ ledger, options, money, print }: WalletContext, args: string[]): Promise<void> {
  need(args, 0, "balance [--account A]");
  if (options.account) {
    const account = await ledger.getAccount(accountRef(options.account));
    const amounts = await ledger.accountBalance(account.id);
    const out = {
      account: account.id,
      name: account.name,
      confirmed: money(amounts.confirmed),
      unconfirmed: money(amounts.unconfirmed),
    };
    print(
      out,
      () => `${account.name}: ${out.confirmed} ${ledger.coin.name} (unconfirmed ${out.unconfirmed})`,
    );
  } else {
    const amounts = await ledger.walletBalance();
    const out = {
      coin: ledger.coin.name,
      confirmed: money(amounts.confirmed),
      unconfirmed: money(amounts.unconfirmed),
    };
    print(out, () => `wallet: ${out.confirmed} ${ledger.coin.name} (unconfirmed ${out.unconfirmed})`);
  }
}
