/**
 * The ledger of one wallet of one coin: the library API an application uses. Every
 * method is one serializable transaction; backend calls (new addresses) happen before it.
 */

import type { Backend } from "../backends/backend.js";
import { checkAmountRange, parsePositiveAmount } from "../coins/amount.js";
import { type CoinInfo, getCoin, type NetworkName } from "../coins/registry.js";
import type { Database } from "../db/open.js";
import { runSerializable, type Trx } from "../db/serializable.js";
import { LedgerStateError } from "../errors.js";
import { type Logger, silentLogger } from "../log.js";
import * as accounts from "./accounts.js";
import * as addresses from "./addresses.js";
import type { LedgerContext } from "./context.js";
import * as queries from "./queries.js";
import * as recompute from "./recompute.js";
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
    const walletId = await runSerializable(options.database, (trx) =>
      accounts.getOrCreateWallet(trx, options.database.engine, coin.name, options.walletName ?? "default"),
    );
    const creditThreshold = options.creditThreshold ?? 3;
    const maxConfirmations = options.maxConfirmations ?? 15;
    if (creditThreshold > maxConfirmations) {
      throw new LedgerStateError(
        `credit threshold (${creditThreshold}) must not exceed max_confirmation_count (${maxConfirmations})`,
      );
    }
    ledger.context = {
      engine: options.database.engine,
      walletId,
      coin,
      network: options.network === undefined ? "mainnet" : options.network,
      creditThreshold,
      maxConfirmations,
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

  /** Debits the account now; the broadcaster sends it with the next batch. Returns the transaction id. */
  /**
   * Debits the account now; the broadcaster sends it with the next batch. To a receiving
   * address of this wallet it is an internal transfer instead (no network fee) unless
   * `forceExternal`. Returns the transaction id.
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
