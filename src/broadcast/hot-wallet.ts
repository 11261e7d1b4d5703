/**
 * The hot wallet's state, checked by the broadcaster after each period (issue 10 fault 1,
 * issue 15 "hot wallet low"): "low" while the daemon's wallet cannot pay the pending sends
 * (it refused them for insufficient funds, or they exceed its balance — a *shortfall*, which
 * marks /health degraded) or holds less than `coins.<coin>.hot_wallet_threshold`; "ok"
 * otherwise. A `hotwalletlow` event fires on each change of state, never per period: the
 * state is persisted (ca_hot_wallet) in the same transaction as its event, so a restart
 * neither fires it again nor misses the recovery.
 */
import type { Backend } from "../backends/backend.js";
import type { TxUpdateSink } from "../chain/sink.js";
import { formatAmount } from "../coins/amount.js";
import type { HotWalletLowData } from "../events/types.js";
import { pendingSendsTotal } from "../ledger/broadcasts.js";
import type { Ledger } from "../ledger/ledger.js";
import type { Logger } from "../log.js";

export interface HotWalletStatus {
  state: "ok" | "low";
  /** Low because the sends cannot all be paid, or only below the threshold. */
  reason: "shortfall" | "threshold" | null;
  balance: bigint;
  pending: bigint;
  threshold: bigint | null;
  /** pending + threshold − balance, at least 0: what a top-up must bring (fees not included). */
  missing: bigint;
  checkedAt: number;
}

export interface HotWalletMonitorOptions {
  ledger: Ledger;
  backend: Backend;
  sink: TxUpdateSink;
  /** Base units; undefined: only a shortfall makes the wallet low. */
  threshold?: bigint;
  logger: Logger;
}

export class HotWalletMonitor {
  readonly #options: HotWalletMonitorOptions;
  /** The persisted state, read once (this broadcaster is its only writer while it leads). */
  #persisted: "ok" | "low" | undefined;
  #status: HotWalletStatus | undefined;

  constructor(options: HotWalletMonitorOptions) {
    this.#options = options;
  }

  /** The last check's figures; undefined before the first check that asked the daemon. */
  status(): HotWalletStatus | undefined {
    return this.#status;
  }

  /**
   * Checks the wallet after a period. `refused`: the daemon refused sends of this period for
   * insufficient funds. Asks the daemon only when something can be low: a threshold is
   * configured, sends were refused, or the wallet is low and may have recovered.
   */
  async check(refused: boolean): Promise<HotWalletStatus | undefined> {
    const { ledger, backend, threshold } = this.#options;
    this.#persisted ??= await ledger.run(async (trx, ctx) => {
      const row = await trx
        .selectFrom("ca_hot_wallet")
        .select("state")
        .where("wallet_id", "=", ctx.walletId)
        .executeTakeFirst();
      return row?.state ?? "ok";
    });
    if (threshold === undefined && !refused && this.#persisted === "ok") {
      this.#status = undefined;
      return undefined;
    }
    const balance = (await backend.getBalances()).trusted;
    const pending = await ledger.run(pendingSendsTotal);
    const short = refused || pending > balance;
    const below = threshold !== undefined && balance < threshold;
    const missing = pending + (threshold ?? 0n) - balance;
    const status: HotWalletStatus = {
      state: short || below ? "low" : "ok",
      reason: short ? "shortfall" : below ? "threshold" : null,
      balance,
      pending,
      threshold: threshold ?? null,
      missing: missing > 0n ? missing : 0n,
      checkedAt: Date.now(),
    };
    this.#status = status;
    if (status.state !== this.#persisted) await this.#change(status);
    return status;
  }

  /** Persists the new state and writes its event in one transaction, unless already there. */
  async #change(status: HotWalletStatus): Promise<void> {
    const { ledger, sink, logger } = this.#options;
    const money = (units: bigint) => formatAmount(units, ledger.coin.decimals);
    const data: HotWalletLowData = {
      coin_name: ledger.coin.name,
      state: status.state === "low" ? "low" : "recovered",
      reason: status.reason,
      balance: money(status.balance),
      pending: money(status.pending),
      threshold: status.threshold === null ? null : money(status.threshold),
      missing: money(status.missing),
    };
    const wrote = await ledger.run(async (trx, ctx) => {
      const row = await trx
        .selectFrom("ca_hot_wallet")
        .select("state")
        .where("wallet_id", "=", ctx.walletId)
        .executeTakeFirst();
      if ((row?.state ?? "ok") === status.state) return false;
      const changed = { state: status.state, changed_at: status.checkedAt };
      if (row)
        await trx.updateTable("ca_hot_wallet").set(changed).where("wallet_id", "=", ctx.walletId).execute();
      else
        await trx
          .insertInto("ca_hot_wallet")
          .values({ wallet_id: ctx.walletId, ...changed })
          .execute();
      await sink.write(trx, [{ event_name: "hotwalletlow", data }]);
      return true;
    });
    this.#persisted = status.state;
    if (!wrote) return;
    sink.notifyCommitted();
    const fields = { ...data, coin: data.coin_name };
    if (status.state === "low") {
      logger.error(fields, "hot wallet low: top it up (hotwalletlow event written)");
    } else {
      logger.info(fields, "hot wallet recovered (hotwalletlow event written)");
    }
  }
}
