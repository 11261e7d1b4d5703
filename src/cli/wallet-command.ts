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

const SUBCOMMANDS = [
  "accounts",
  "create-account",
  "create-address",
  "send",
  "transactions",
  "balance",
  "received",
  "account-of",
  "deposits",
  "recompute",
  "label",
  "reconcile",
  "import-balance",
] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

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
          await run(ledger, subcommand as Subcommand, args, options);
        } finally {
          await backend?.close();
        }
      });
    });
}

async function run(
  ledger: Ledger,
  subcommand: Subcommand,
  args: string[],
  options: WalletOptions,
): Promise<void> {
  const decimals = ledger.coin.decimals;
  const money = (units: bigint) => formatAmount(units, decimals);
  const print = (json: unknown, text: () => string) => console.log(options.json ? toJson(json) : text());
  switch (subcommand) {
    case "accounts": {
      need(args, 0, "accounts");
      const rows = (await ledger.listAccounts()).map((a) => ({
        id: a.id,
        name: a.name,
        kind: a.kind,
        balance: money(a.balance),
      }));
      print(rows, () => formatTable(rows, ["id", "name", "kind", "balance"]));
      return;
    }
    case "create-account": {
      const [name] = need(args, 1, "create-account <name>");
      const account = await ledger.createAccount(name as string);
      print({ id: account.id, name: account.name }, () => `created account ${account.name} (#${account.id})`);
      return;
    }
    case "create-address": {
      const [account] = need(args, 1, "create-address <account> [--label L]");
      const address = await ledger.createReceivingAddress(accountRef(account as string), {
        label: options.label,
      });
      print(
        { address: address.address, account: address.account_id, label: address.label },
        () => address.address,
      );
      return;
    }
    case "send": {
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
      return;
    }
    case "transactions": {
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
      print(rows, () =>
        formatTable(rows, ["id", "type", "state", "amount", "from", "to", "label", "created"]),
      );
      return;
    }
    case "received": {
      const [address] = need(args, 1, "received <address> [--confirmations N]");
      const received = await ledger.getBalanceByConfirmations(address as string, options.confirmations);
      const out = { address, confirmations: options.confirmations, received: money(received) };
      print(
        out,
        () =>
          `${address}: ${out.received} ${ledger.coin.name} received in deposits with ≥ ${options.confirmations} confirmation(s)`,
      );
      return;
    }
    case "account-of": {
      const [address] = need(args, 1, "account-of <address>");
      const account = await ledger.getAccountByAddress(address as string);
      if (account === undefined) {
        throw new UsageError(`${address} is not a receiving address of this ${ledger.coin.name} wallet`);
      }
      print(
        { id: account.id, name: account.name },
        () => `${address}: account ${account.name} (#${account.id})`,
      );
      return;
    }
    case "deposits": {
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
      return;
    }
    case "recompute": {
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
      return;
    }
    case "label": {
      const [id, text] = need(args, 2, "label <transaction> <text> (an empty text clears it)");
      if (!/^\d+$/.test(id as string)) throw new UsageError(`transaction id must be a number, got ${id}`);
      const label = text === "" ? null : (text as string);
      await ledger.setTransactionLabel(Number(id), label);
      print(
        { transaction: Number(id), label },
        () => `transaction #${id}: ${label === null ? "label cleared" : `labelled ${JSON.stringify(label)}`}`,
      );
      return;
    }
    case "reconcile": {
      need(args, 0, "reconcile");
      const r = await ledger.reconcile();
      const view = reconciliationView(r, decimals);
      print(view, () => reconciliationText(view, ledger.coin.name));
      if (r.status === "short") process.exitCode = 1;
      return;
    }
    case "import-balance": {
      const [account] = need(args, 1, "import-balance <account> [--label L]");
      const result = await ledger.importBalance(accountRef(account as string), { label: options.label });
      const out = {
        imported: money(result.imported),
        transaction: result.transactionId,
        reconciliation: reconciliationView(result.reconciliation, decimals),
      };
      print(out, () =>
        result.transactionId === null
          ? `nothing unaccounted: the daemon holds what the ledger owes (${out.reconciliation.ledger.owed} ${ledger.coin.name}); nothing booked`
          : `imported ${out.imported} ${ledger.coin.name} on ${account} as balance_import #${result.transactionId}`,
      );
      return;
    }
    case "balance": {
      need(args, 0, "balance [--account A]");
      if (options.account) {
        const account = await ledger.getAccount(accountRef(options.account));
        const balance = await ledger.accountBalance(account.id);
        const out = {
          account: account.id,
          name: account.name,
          confirmed: money(balance.confirmed),
          unconfirmed: money(balance.unconfirmed),
        };
        print(
          out,
          () => `${account.name}: ${out.confirmed} ${ledger.coin.name} (unconfirmed ${out.unconfirmed})`,
        );
      } else {
        const balance = await ledger.walletBalance();
        const out = {
          coin: ledger.coin.name,
          confirmed: money(balance.confirmed),
          unconfirmed: money(balance.unconfirmed),
        };
        print(out, () => `wallet: ${out.confirmed} ${ledger.coin.name} (unconfirmed ${out.unconfirmed})`);
      }
      return;
    }
  }
}
