/**
 * A Backend that counts its calls and remembers whether the daemon answered. Every part of
 * the service (updater, tracker, scan, broadcaster, ledger) reaches the daemon through the
 * same instance, so this one wrapper gives the RPC metrics per coin and the backend state on
 * the status page ("reachable" / "unreachable since … because …") without any of them
 * reporting separately.
 *
 * An RPC error answer (e.g. -5 "not a wallet transaction") still proves the daemon is up:
 * only transport failures (refused, timeout, 401, garbage) make it "unreachable".
 */
import type {
  Backend,
  BlockHeaderRef,
  ChainTip,
  SinceBlockEntry,
  SinceBlockResult,
  WalletBalances,
  WalletTransaction,
} from "../backends/backend.js";
import { RpcTransportError } from "../errors.js";
import { cleanExternalText } from "../redact/external-text.js";

export type BackendState = "unknown" | "reachable" | "unreachable";

export interface BackendHealth {
  state: BackendState;
  /** Last transport failure message (URL already masked by the backend). */
  lastError: string | null;
  lastErrorAt: number | null;
  lastOkAt: number | null;
  /** Since when the current state holds. */
  since: number;
}

export type CallObserver = (method: string, ok: boolean) => void;

export class MeteredBackend implements Backend {
  readonly coin: string;
  readonly health: BackendHealth = {
    state: "unknown",
    lastError: null,
    lastErrorAt: null,
    lastOkAt: null,
    since: Date.now(),
  };
  /** The last tip a getTip() call returned: the status page's tip height costs no extra RPC. */
  lastTip: ChainTip | undefined;

  constructor(
    readonly inner: Backend,
    private readonly observe: CallObserver = () => undefined,
  ) {
    this.coin = inner.coin;
  }

  private async metered<T>(method: string, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.record(method, true);
      return result;
    } catch (error) {
      const transport = error instanceof RpcTransportError;
      this.record(method, false, transport ? cleanExternalText(error.message) : undefined);
      throw error;
    }
  }

  private record(method: string, ok: boolean, transportError?: string): void {
    this.observe(method, ok);
    const now = Date.now();
    if (transportError !== undefined) {
      if (this.health.state !== "unreachable") this.health.since = now;
      this.health.state = "unreachable";
      this.health.lastError = transportError;
      this.health.lastErrorAt = now;
      return;
    }
    // A daemon error reply still means the daemon answered.
    if (this.health.state !== "reachable") this.health.since = now;
    this.health.state = "reachable";
    this.health.lastOkAt = now;
  }

  getNewAddress(label?: string): Promise<string> {
    return this.metered("getnewaddress", () => this.inner.getNewAddress(label));
  }

  getTransaction(txid: string): Promise<WalletTransaction> {
    return this.metered("gettransaction", () => this.inner.getTransaction(txid));
  }

  getTransactions(txids: readonly string[]): Promise<Map<string, WalletTransaction | null>> {
    return this.metered("gettransaction_batch", () => this.inner.getTransactions(txids));
  }

  listSinceBlock(blockhash?: string): Promise<SinceBlockResult> {
    return this.metered("listsinceblock", () => this.inner.listSinceBlock(blockhash));
  }

  listTransactions(count: number, skip: number): Promise<SinceBlockEntry[]> {
    return this.metered("listtransactions", () => this.inner.listTransactions(count, skip));
  }

  async getTip(): Promise<ChainTip> {
    const tip = await this.metered("getblockchaininfo", () => this.inner.getTip());
    this.lastTip = tip;
    return tip;
  }

  getBlockHeader(hash: string): Promise<BlockHeaderRef | undefined> {
    return this.metered("getblockheader", () => this.inner.getBlockHeader(hash));
  }

  sendMany(outputs: ReadonlyMap<string, bigint>, comment?: string): Promise<string> {
    return this.metered("sendmany", () => this.inner.sendMany(outputs, comment));
  }

  findSendsByComment(comment: string, since: number): Promise<string[]> {
    return this.metered("listtransactions", () => this.inner.findSendsByComment(comment, since));
  }

  getBalances(): Promise<WalletBalances> {
    return this.metered("getbalances", () => this.inner.getBalances());
  }

  validateAddress(address: string): Promise<boolean> {
    return this.metered("validateaddress", () => this.inner.validateAddress(address));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
