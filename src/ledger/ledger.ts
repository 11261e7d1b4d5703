/**
 * The ledger of one wallet of one coin: the library API an application uses. Every
 * method is one serializable transaction; backend calls (new addresses) happen before it.
 */

import type { Backend } from "../backends/backend.js";
import { checkAmountRange, formatAmount, parseAmount, parsePositiveAmount } from "../coins/amount.js";
import { type CoinInfo, getCoin, type NetworkName } from "../coins/registry.js";
import type { Database } from "../db/open.js";
import { runSerializable, type Trx } from "../db/serializable.js";
import { BalanceImportRefusedError, LedgerExceedsDaemonError, LedgerStateError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import * as accounts from "./accounts.js";
import * as addresses from "./addresses.js";
import { readLedgerId } from "./broadcasts.js";
import type { LedgerContext } from "./context.js";
import * as queries from "./queries.js";
import * as recompute from "./recompute.js";
import { ledgerHoldings, type Reconciliation, reconcile, sameHoldings } from "./reconcile.js";
import * as transfers from "./transfers.js";

export interface LedgerOptions {
  database: Database;
  coin: string | CoinInfo;
  /**
   * Which network addresses must belong to (default mainnet). Null: not known yet, taken from
   * the daemon later (setNetwork); until then sends are refused.
   */
  network?: NetworkName | null;
  walletName?: string;
  creditThreshold?: number;
  maxConfirmations?: number;
  /**
   * Smallest amount `send` accepts: base units, or a decimal string in coin units as
   * `coins.<name>.dust_limit` has it (default: the coin's, see CoinInfo.dustLimit).
   */
  dustLimit?: bigint | string;
  backend?: Backend;
  logger?: Logger;
}

export class Ledger {
  readonly database: Database;
  readonly coin: CoinInfo;
  private context: LedgerContext | undefined;
  private readonly logger: Logger;

  private constructor(
    options: LedgerOptions,
    readonly backend: Backend | undefined,
  ) {
    this.database = options.database;
    this.coin = typeof options.coin === "string" ? getCoin(options.coin) : options.coin;
    this.logger = (options.logger ?? silentLogger).child({ module: "ledger", coin: this.coin.name });
  }

  /** Opens (creating when missing) the named wallet and its network-fee account. */
  static async open(options: LedgerOptions): Promise<Ledger> {
    const ledger = new Ledger(options, options.backend);
    const coin = ledger.coin;
    const { walletId, ledgerId } = await runSerializable(options.database, async (trx) => ({
      walletId: await accounts.getOrCreateWallet(
        trx,
        options.database.engine,
        coin.name,
        options.walletName ?? "default",
      ),
      ledgerId: await readLedgerId(trx),
    }));
    const creditThreshold = options.creditThreshold ?? 3;
    const maxConfirmations = options.maxConfirmations ?? 15;
    if (creditThreshold > maxConfirmations) {
      throw new LedgerStateError(
        `credit threshold (${creditThreshold}) must not exceed max_confirmation_count (${maxConfirmations})`,
      );
    }
    const dustLimit =
      typeof options.dustLimit === "string"
        ? parseAmount(options.dustLimit, coin.decimals, `coins.${coin.name}.dust_limit`)
        : (options.dustLimit ?? coin.dustLimit);
    ledger.context = {
      engine: options.database.engine,
      walletId,
      ledgerId,
      coin,
      network: options.network === undefined ? "mainnet" : options.network,
      creditThreshold,
      maxConfirmations,
      dustLimit,
    };
    return ledger;
  }

  get ctx(): LedgerContext {
    if (!this.context) throw new LedgerStateError("ledger not opened; use Ledger.open()");
    return this.context;
  }

  /** The network sends are validated against; null while it is still to come from the daemon. */
  get network(): NetworkName | null {
    return this.ctx.network;
  }

  /** Sets the network a ledger opened with `network: null` learned from its daemon. */
  setNetwork(network: NetworkName): void {
    const current = this.ctx.network;
    if (current !== null && current !== network) {
      throw new LedgerStateError(
        `the ${this.coin.name} ledger is on ${current}; it cannot move to ${network}`,
      );
    }
    this.ctx.network = network;
  }

  get walletId(): number {
    return this.ctx.walletId;
  }

  /** Runs `fn` in one serializable transaction with this ledger's context. */
  run<T>(fn: (trx: Trx, ctx: LedgerContext) => Promise<T>): Promise<T> {
    return runSerializable(this.database, (trx) => fn(trx, this.ctx));
  }

  /** Decimal string ("0.5") to base units, validated for this coin's precision. */
  parseAmount(amount: string | bigint): bigint {
    return typeof amount === "bigint"
      ? checkAmountRange(amount)
      : parsePositiveAmount(amount, this.coin.decimals);
  }

  createAccount(name: string) {
    return this.run((trx, ctx) => accounts.createAccount(trx, ctx, name));
  }

  getAccount(idOrName: number | string) {
    return this.run((trx, ctx) => accounts.getAccount(trx, ctx, idOrName));
  }

  /** Get-or-create by name. */
  async account(name: string) {
    return this.run(
      async (trx, ctx) =>
        (await accounts.findAccount(trx, ctx, name)) ?? accounts.createAccount(trx, ctx, name),
    );
  }

  /** The account one of this wallet's receiving addresses belongs to; undefined for any other address. */
  getAccountByAddress(address: string) {
    return this.run((trx, ctx) => accounts.findAccountByAddress(trx, ctx, address));
  }

  listAccounts() {
    return this.run((trx, ctx) => accounts.listAccounts(trx, ctx));
  }

  getNetworkFeeAccount() {
    return this.run((trx, ctx) => accounts.getNetworkFeeAccount(trx, ctx));
  }

  /** A new receiving address from the daemon, recorded for the account. */
  async createReceivingAddress(accountIdOrName: number | string, options: { label?: string } = {}) {
    if (!this.backend)
      throw new LedgerStateError("no backend configured: cannot get a new address from the daemon");
    const account = await this.getAccount(accountIdOrName);
    const address = await this.backend.getNewAddress(options.label);
    this.logger.info({ account: account.id, address }, "new receiving address");
    return this.run((trx, ctx) =>
      addresses.insertReceivingAddress(trx, ctx, account.id, address, options.label ?? null),
    );
  }

  listAddresses(accountId: number) {
    return this.run((trx, ctx) => addresses.listAddresses(trx, ctx, accountId));
  }

  setAddressLabel(address: string, label: string | null) {
    return this.run((trx, ctx) => addresses.setAddressLabel(trx, ctx, address, label));
  }

  archiveAddress(address: string) {
    return this.run((trx, ctx) => addresses.archiveAddress(trx, ctx, address));
  }

  async transfer(from: number, to: number, amount: string | bigint, options: { label?: string } = {}) {
    const units = this.parseAmount(amount);
    return this.run((trx, ctx) => transfers.transfer(trx, ctx, from, to, units, options.label ?? null));
  }

  /**
   * Debits the account now; the broadcaster sends it with the next batch. To a receiving
   * address of this wallet it is an internal transfer instead (no network fee) unless
   * `forceExternal`. An external send below the dust limit is refused (AmountBelowDustError):
   * the daemon would refuse its output. Returns the transaction id.
   */
  async send(from: number, address: string, amount: string | bigint, options: transfers.SendOptions = {}) {
    const units = this.parseAmount(amount);
    return this.run((trx, ctx) => transfers.send(trx, ctx, from, address, units, options));
  }

  accountBalance(accountId: number) {
    return this.run((trx, ctx) => queries.accountBalance(trx, ctx, accountId));
  }

  addressBalance(address: string) {
    return this.run((trx, ctx) => queries.addressBalance(trx, ctx, address));
  }

  /**
   * All-time amount an address of this wallet received in deposits with at least
   * `confirmations` (0: mempool included), as the original's `get_balance_by_confirmations`.
   */
  getBalanceByConfirmations(address: string, confirmations = 0) {
    return this.run((trx, ctx) => queries.receivedByConfirmations(trx, ctx, address, confirmations));
  }

  /** Deposits, newest first: of one account, or only those not credited yet. */
  listDeposits(query: queries.DepositQuery = {}) {
    return this.run((trx, ctx) => queries.listDeposits(trx, ctx, query));
  }

  /** Stored beside recomputed balances of every account (or one); reports, never changes them. */
  recomputeBalances(accountId?: number) {
    return this.run((trx, ctx) => recompute.recomputeBalances(trx, ctx, accountId));
  }

  /** Labels any transaction of the wallet (deposits too); null clears the label. */
  setTransactionLabel(id: number, label: string | null) {
    return this.run((trx, ctx) => queries.setTransactionLabel(trx, ctx, id, label));
  }

  /**
   * The daemon's wallet balance beside what the ledger owes (see ./reconcile.ts). Needs the
   * backend. `status: "short"` means the ledger holds more than the daemon.
   */
  async reconcile(): Promise<Reconciliation> {
    const backend = this.requireBackend("reconcile with the daemon");
    const daemon = await backend.getBalances();
    const block = daemon.lastProcessedBlock ?? (await backend.getTip());
    return reconcile(daemon, await this.run(ledgerHoldings), block);
  }

  /**
   * Books the daemon's unaccounted balance on an account as one `balance_import`
   * transaction (the original's walletimport), in one serializable transaction. Idempotent:
   * with nothing unaccounted it books nothing (`transactionId` null). Refuses when the
   * ledger holds more than the daemon, while a broadcast is interrupted (its sends may or
   * may not be paid), when the ledger has not processed the daemon's last block, and when
   * either side moved while reading.
   */
  async importBalance(
    accountIdOrName: number | string,
    options: { label?: string } = {},
  ): Promise<{ imported: bigint; transactionId: number | null; reconciliation: Reconciliation }> {
    const backend = this.requireBackend("import the daemon's balance");
    const account = await this.getAccount(accountIdOrName);
    const daemon = await backend.getBalances();
    const block = daemon.lastProcessedBlock ?? (await backend.getTip());
    const holdings = await this.run(ledgerHoldings);
    const again = await backend.getBalances();
    const refuse = (why: string) => new BalanceImportRefusedError(`import-balance refused: ${why}`);
    if (
      again.trusted !== daemon.trusted ||
      again.untrustedPending !== daemon.untrustedPending ||
      again.lastProcessedBlock?.hash !== daemon.lastProcessedBlock?.hash
    ) {
      throw refuse("the daemon's wallet changed while it was read; run it again");
    }
    const figures = reconcile(daemon, holdings, block);
    const money = (units: bigint) => `${formatAmount(units, this.coin.decimals)} ${this.coin.name}`;
    // First: with a send whose payment is unknown, no other figure can be trusted.
    if (holdings.interruptedBroadcasts > 0) {
      throw refuse(
        `${holdings.interruptedBroadcasts} interrupted broadcast(s) of ${money(holdings.interruptedSends)}: the daemon may have paid them or not; resolve them first (cryptoassets broadcasts list)`,
      );
    }
    if (figures.status === "short") {
      throw new LedgerExceedsDaemonError(
        `import-balance refused: the ledger holds ${money(-figures.difference)} more than the daemon's wallet (see cryptoassets wallet reconcile)`,
      );
    }
    if (!figures.ledgerAtDaemonBlock) {
      throw refuse(
        `the ledger has processed block ${holdings.lastBlock.height ?? "none"}, the daemon's balance is at block ${block.height}: let the helper service catch up (or run cryptoassets scan-received) first`,
      );
    }
    if (figures.importable === 0n) return { imported: 0n, transactionId: null, reconciliation: figures };
    const transactionId = await this.run(async (trx, ctx) => {
      if (!sameHoldings(holdings, await ledgerHoldings(trx, ctx))) {
        throw refuse("the ledger changed while the daemon was read; run it again");
      }
      return accounts.bookBalanceImport(trx, ctx, account.id, figures.importable, options.label);
    });
    this.logger.info(
      { account: account.id, amount: figures.importable.toString() },
      "daemon balance imported",
    );
    return { imported: figures.importable, transactionId, reconciliation: figures };
  }

  private requireBackend(what: string): Backend {
    if (!this.backend) throw new LedgerStateError(`no backend configured: cannot ${what}`);
    return this.backend;
  }

  walletBalance() {
    return this.run((trx, ctx) => queries.walletBalance(trx, ctx));
  }

  listTransactions(options: { accountId?: number; limit?: number } = {}) {
    return this.run((trx, ctx) => queries.listTransactions(trx, ctx, options));
  }

  getTransaction(id: number) {
    return this.run((trx, ctx) => queries.getTransaction(trx, ctx, id));
  }

  markProcessed(id: number) {
    return this.run((trx, ctx) => queries.markProcessed(trx, ctx, id));
  }
}
