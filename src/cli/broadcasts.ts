/**
 * `cryptoassets broadcasts <config> list | release <id>`: the operator's side of interrupted
 * broadcasts (opened, sendmany's outcome unknown). The helper service closes those whose
 * payment it finds in the daemon's wallet by their comment; what is left here the daemon has
 * not shown us, or shows a transaction with the comment that is not the payment (`refused`:
 * another ledger on the same wallet, a restored copy of this one — see
 * ../broadcast/recovery.ts). Releasing one puts its sends back to pending, so the next
 * broadcast period pays them — which is why release asks the daemon first and refuses when
 * the payment is there.
 */
import { type Command, InvalidArgumentError } from "commander";
import type { Backend } from "../backends/backend.js";
import { findBroadcastPayment, type RefusedCandidate } from "../broadcast/recovery.js";
import { formatAmount } from "../coins/amount.js";
import { listBroadcastSends, listInterruptedBroadcasts, releaseBroadcast } from "../ledger/broadcasts.js";
import type { Ledger } from "../ledger/ledger.js";
import { formatTable, isoTime, toJson, withDatabase } from "./common.js";
import { openLedger, pickCoin, UsageError } from "./open-ledger.js";

/** A broadcast younger than this may still be executing at the daemon: release refuses it. */
const SETTLE_MS = 60_000;

interface InterruptedView {
  id: number;
  opened_at: string;
  comment: string;
  sends: number;
  amount: string;
  /** The daemon's txid that is this broadcast's payment, when it has one (the service will close it). */
  found_txid: string | null;
  /** Wallet transactions carrying the comment that are not its payment, and why. */
  refused: RefusedCandidate[];
}

async function describeInterrupted(ledger: Ledger, backend: Backend): Promise<InterruptedView[]> {
  const interrupted = await ledger.run((trx, ctx) => listInterruptedBroadcasts(trx, ctx));
  const views: InterruptedView[] = [];
  for (const ntx of interrupted) {
    const sends = await ledger.run((trx, ctx) => listBroadcastSends(trx, ctx, ntx.id));
    const search = await findBroadcastPayment(ledger, backend, ntx);
    views.push({
      id: ntx.id,
      opened_at: isoTime(ntx.opened_at),
      comment: search.comment,
      sends: sends.length,
      amount: formatAmount(
        sends.reduce((sum, send) => sum + send.amount, 0n),
        ledger.coin.decimals,
      ),
      found_txid: search.accepted ?? null,
      refused: search.refused,
    });
  }
  return views;
}

function parseId(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a broadcast id (a whole number)");
  return Number(value);
}

async function withLedger(
  configPath: string,
  coinOption: string | undefined,
  fn: (ledger: Ledger, backend: Backend) => Promise<void>,
): Promise<void> {
  await withDatabase(configPath, async ({ config, database }) => {
    const coin = pickCoin(config, coinOption);
    const { ledger, backend } = await openLedger(config, database, coin, true);
    try {
      await fn(ledger, backend as Backend);
    } finally {
      await backend?.close();
    }
  });
}

export function registerBroadcastsCommand(program: Command): void {
  const broadcasts = program
    .command("broadcasts")
    .description("interrupted broadcasts: list them, release one the daemon did not pay");

  broadcasts
    .command("list")
    .argument("<config>", "configuration YAML file")
    .option("--coin <name>", "which coin, when several are configured")
    .option("--json", "machine-readable output")
    .action(async (configPath: string, options: { coin?: string; json?: boolean }) => {
      await withLedger(configPath, options.coin, async (ledger, backend) => {
        const views = await describeInterrupted(ledger, backend);
        if (options.json) console.log(toJson(views));
        else if (views.length === 0) console.log("no interrupted broadcasts");
        else {
          console.log(
            formatTable(
              views.map((view) => ({
                ...view,
                found_txid: view.found_txid ?? "",
                refused: view.refused.length,
              })),
              ["id", "opened_at", "sends", "amount", "comment", "found_txid", "refused"],
            ),
          );
          for (const view of views) {
            for (const { txid, reason } of view.refused) {
              console.log(
                `broadcast ${view.id}: ${txid} carries its comment but is not its payment: ${reason}`,
              );
            }
          }
        }
      });
    });

  broadcasts
    .command("release")
    .argument("<config>", "configuration YAML file")
    .argument("<id>", "the interrupted broadcast's id (from `broadcasts list`)", parseId)
    .option("--coin <name>", "which coin, when several are configured")
    .action(async (configPath: string, id: number, options: { coin?: string }) => {
      await withLedger(configPath, options.coin, async (ledger, backend) => {
        const view = (await describeInterrupted(ledger, backend)).find((v) => v.id === id);
        if (!view) throw new UsageError(`broadcast ${id} is not interrupted (see \`broadcasts list\`)`);
        if (view.found_txid) {
          throw new UsageError(
            `broadcast ${id} was paid: the daemon's wallet holds ${view.found_txid} with comment ${view.comment}; the helper service closes it as sent on its next period — releasing it would pay twice`,
          );
        }
        const openedAt = Date.parse(view.opened_at);
        if (Date.now() - openedAt < SETTLE_MS) {
          throw new UsageError(
            `broadcast ${id} was opened ${Math.round((Date.now() - openedAt) / 1000)} s ago; its sendmany may still be running at the daemon — try again in a minute`,
          );
        }
        await ledger.run((trx, ctx) => releaseBroadcast(trx, ctx, id));
        console.log(
          `released broadcast ${id}: its ${view.sends} send(s) (${view.amount} ${ledger.coin.name.toUpperCase()}) are pending again and go out in the next broadcast period`,
        );
      });
    });
}
