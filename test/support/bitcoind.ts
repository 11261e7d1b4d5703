/**
 * A throwaway real Bitcoin Core regtest node for tests: its own temporary datadir, its RPC
 * port from the port helper, no network (-listen=0 -connect=0 -dnsseed=0), a fallback fee,
 * optional -walletnotify/-blocknotify shell commands. `start()` waits until RPC answers;
 * `stop()` sends SIGTERM, then SIGKILL, and removes the datadir; `kill9()` and `restart()`
 * serve crash scenarios (same datadir, same port). A process-exit hook SIGKILLs any node a
 * failed test left running, so nothing outlives the test worker.
 *
 * Which binary: `CRYPTOASSETS_TEST_BITCOIND` (a user's own bitcoind), else the build CI
 * ships beside the checkout (`../shared/bitcoin-core/bin/bitcoind`, relative to the
 * repository root). With neither, `BITCOIND_SKIP_REASON` says why real-node suites skip.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LosslessNumber } from "lossless-json";
import { describe } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { freePort } from "./ports.js";

const REPO_ROOT = resolve(import.meta.dirname, "../..");
const SHIPPED_BITCOIND = resolve(REPO_ROOT, "../shared/bitcoin-core/bin/bitcoind");

function locateBitcoind(): { path: string } | { skipReason: string } {
  const own = process.env.CRYPTOASSETS_TEST_BITCOIND;
  const path = own || SHIPPED_BITCOIND;
  const origin = own ? "CRYPTOASSETS_TEST_BITCOIND" : "the shipped build";
  if (!existsSync(path)) {
    return {
      skipReason: own
        ? `CRYPTOASSETS_TEST_BITCOIND=${own} does not exist`
        : `no bitcoind: ${SHIPPED_BITCOIND} is absent and CRYPTOASSETS_TEST_BITCOIND is unset`,
    };
  }
  // A binary that cannot load its shared libraries fails here, not in the middle of a test.
  const probe = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || `exit ${probe.status}`).trim().split("\n")[0];
    return { skipReason: `${path} (${origin}) does not run: ${why}` };
  }
  return { path };
}

const located = locateBitcoind();
/** The bitcoind binary the real-node tests use, or undefined (see BITCOIND_SKIP_REASON). */
export const BITCOIND_PATH: string | undefined = "path" in located ? located.path : undefined;
/** Why the real-node suites skip; undefined when a bitcoind is available. */
export const BITCOIND_SKIP_REASON: string | undefined =
  "skipReason" in located ? located.skipReason : undefined;

const RPC_USER = "cryptoassets";
/** Blocks mined at start so the first coinbase is spendable (100 confirmations) with some to spare. */
export const FUNDING_BLOCKS = 101;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const c of running) c.kill("SIGKILL");
  });
}

export interface RegtestNodeOptions {
  /** Shell command run for each wallet transaction (%s txid, %w wallet name). */
  walletnotify?: string;
  /** Shell command run for each new tip (%s block hash). */
  blocknotify?: string;
  /** Seconds to wait for RPC after a (re)start (default 60). */
  startTimeoutS?: number;
}

/** A running regtest bitcoind. Create with `RegtestNode.start()`; always `stop()` it. */
export class RegtestNode {
  /** RPC URL with credentials, no wallet path. */
  readonly url: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #clients = new Map<string, BitcoindRpcClient>();
  readonly #minedBlocks: string[] = [];
  #stopped = false;

  private constructor(
    readonly datadir: string,
    readonly rpcPort: number,
    readonly password: string,
    private readonly options: RegtestNodeOptions,
  ) {
    this.url = `http://${RPC_USER}:${password}@127.0.0.1:${rpcPort}/`;
  }

  /** Starts a node (throws when no bitcoind is available: guard suites with BITCOIND_SKIP_REASON). */
  static async start(options: RegtestNodeOptions = {}): Promise<RegtestNode> {
    const datadir = mkdtempSync(join(tmpdir(), "ca-bitcoind-"));
    const node = new RegtestNode(datadir, await freePort(), randomBytes(12).toString("hex"), options);
    // Credentials in the datadir's bitcoin.conf (mode 0700 folder), not on the command line.
    writeFileSync(
      join(datadir, "bitcoin.conf"),
      `regtest=1\n[regtest]\nrpcuser=${RPC_USER}\nrpcpassword=${node.password}\n`,
      { mode: 0o600 },
    );
    try {
      await node.#launch();
      return node;
    } catch (error) {
      await node.stop();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** A client for the node (`wallet` selects /wallet/<name>); closed by stop(). */
  rpc(wallet?: string): BitcoindRpcClient {
    const key = wallet ?? "";
    let client = this.#clients.get(key);
    if (!client) {
      client = new BitcoindRpcClient({ url: this.url, wallet, timeoutMs: 60_000 });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Creates a descriptor wallet that is loaded again on every restart. */
  async createWallet(name: string): Promise<BitcoindRpcClient> {
    // Positional: name, disable_private_keys, blank, passphrase, avoid_reuse, descriptors, load_on_startup.
    await this.rpc().call("createwallet", [name, false, false, "", false, true, true]);
    return this.rpc(name);
  }

  /**
   * Mines `blocks` to `address` (by default a fresh address of `wallet`). Each block's raw
   * form is kept, so restart() can hand back the blocks a kill -9 lost, as peers would.
   */
  async mine(blocks: number, wallet: string, address?: string): Promise<string[]> {
    const to = address ?? String(await this.rpc(wallet).call("getnewaddress"));
    const hashes = (await this.rpc().call("generatetoaddress", [blocks, to])) as string[];
    const raw = await this.rpc().batch(hashes.map((hash) => ({ method: "getblock", params: [hash, 0] })));
    for (const outcome of raw) {
      if (!outcome.ok) throw outcome.error;
      this.#minedBlocks.push(String(outcome.result));
    }
    return hashes;
  }

  /** Writes the chain state and block index to disk (gettxoutsetinfo forces a flush). */
  async flush(): Promise<void> {
    await this.rpc().call("gettxoutsetinfo", ["none"]);
  }

  /** `wallet` pays `amount` (decimal string) to `address`; returns the txid. */
  async pay(wallet: string, address: string, amount: string): Promise<string> {
    return String(await this.rpc(wallet).call("sendtoaddress", [address, new LosslessNumber(amount)]));
  }

  async height(): Promise<number> {
    return Number(String(await this.rpc().call("getblockcount")));
  }

  /** SIGKILL: no shutdown, the datadir stays as the crash left it. */
  async kill9(): Promise<void> {
    this.#child?.kill("SIGKILL");
    await this.#exited;
  }

  /**
   * Starts the same node again (same datadir, port and wallets) after kill9() or an exit.
   * Core flushes its block index only now and then (or on flush()/clean shutdown), and
   * writes its mempool only at a clean shutdown, so after a kill -9 it comes back at an
   * older tip with an empty mempool; a real node then gets the missing blocks and the
   * unconfirmed transactions back from its peers. Regtest has none: with `resupply`
   * (default) resupply() plays them. Returns the height the node came back at, before any
   * resupply.
   */
  async restart(options: { resupply?: boolean } = {}): Promise<number> {
    if (this.running) throw new Error("restart(): the node is still running (kill9() it first)");
    await this.#launch();
    const cameBackAt = await this.height();
    if (options.resupply ?? true) await this.resupply();
    return cameBackAt;
  }

  /** What peers give a node back after a crash: the blocks mine() made, then the mempool. */
  async resupply(): Promise<void> {
    for (const block of this.#minedBlocks) {
      const outcome = await this.rpc().call("submitblock", [block]);
      // null = accepted; "duplicate…" = it survived the crash (or a test invalidated it).
      if (outcome !== null && !String(outcome).startsWith("duplicate")) {
        throw new Error(`resubmitting a block after restart: ${String(outcome)}`);
      }
    }
    await this.#relayUnconfirmed();
  }

  /** What peers would relay back after a crash: each wallet's unconfirmed transactions. */
  async #relayUnconfirmed(): Promise<void> {
    const pending = new Map<string, string>(); // txid → raw hex, oldest first
    for (const wallet of (await this.rpc().call("listwallets")) as string[]) {
      const entries = (await this.rpc(wallet).call("listtransactions", ["*", 100_000, 0, true])) as Array<{
        txid: string;
        confirmations: unknown;
      }>;
      for (const entry of entries) {
        if (Number(String(entry.confirmations)) !== 0 || pending.has(entry.txid)) continue;
        const tx = (await this.rpc(wallet).call("gettransaction", [entry.txid])) as { hex: string };
        pending.set(entry.txid, tx.hex);
      }
    }
    const mempool = new Set((await this.rpc().call("getrawmempool")) as string[]);
    // A child sent before its parent is refused ("missing inputs"): retry while anything goes in.
    let progress = true;
    while (progress) {
      progress = false;
      for (const [txid, hex] of pending) {
        if (mempool.has(txid)) {
          pending.delete(txid);
          continue;
        }
        try {
          await this.rpc().call("sendrawtransaction", [hex]);
          mempool.add(txid);
          pending.delete(txid);
          progress = true;
        } catch {
          // missing inputs (parent not in yet), or conflicted/mined meanwhile: left out
        }
      }
    }
  }

  /** SIGTERM, SIGKILL after 15 s, then removes the datadir. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.allSettled([...this.#clients.values()].map((client) => client.close()));
    if (this.running) {
      this.#child?.kill("SIGTERM");
      const timer = setTimeout(() => this.#child?.kill("SIGKILL"), 15_000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.datadir, { recursive: true, force: true });
  }

  /** The end of the node's debug.log, for failure messages. */
  debugLogTail(lines = 20): string {
    try {
      return readFileSync(join(this.datadir, "regtest", "debug.log"), "utf8")
        .trimEnd()
        .split("\n")
        .slice(-lines)
        .join("\n");
    } catch {
      return "(no debug.log)";
    }
  }

  async #launch(): Promise<void> {
    if (!BITCOIND_PATH) throw new Error(`cannot start bitcoind: ${BITCOIND_SKIP_REASON}`);
    const args = [
      `-datadir=${this.datadir}`,
      "-server",
      "-listen=0",
      "-connect=0",
      "-dnsseed=0",
      "-discover=0",
      "-listenonion=0",
      "-printtoconsole=0",
      "-fallbackfee=0.0002",
      `-rpcport=${this.rpcPort}`,
      "-rpcbind=127.0.0.1",
      "-rpcallowip=127.0.0.1",
    ];
    if (this.options.walletnotify) args.push(`-walletnotify=${this.options.walletnotify}`);
    if (this.options.blocknotify) args.push(`-blocknotify=${this.options.blocknotify}`);
    const child = spawn(BITCOIND_PATH, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    track(child);
    this.#child = child;
    this.#exited = new Promise((done) => child.once("exit", () => done()));
    await this.#waitForRpc(child, () => stderr);
  }

  async #waitForRpc(child: ChildProcess, stderr: () => string): Promise<void> {
    const probe = new BitcoindRpcClient({ url: this.url, timeoutMs: 5_000 });
    const deadline = Date.now() + (this.options.startTimeoutS ?? 60) * 1000;
    let lastError: unknown;
    try {
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `bitcoind exited (${child.exitCode ?? child.signalCode}) while starting: ${stderr().trim()}\n${this.debugLogTail()}`,
          );
        }
        try {
          await probe.call("getblockchaininfo");
          return;
        } catch (error) {
          lastError = error; // connection refused, or -28 while warming up (loading wallets)
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `bitcoind RPC not ready after ${this.options.startTimeoutS ?? 60} s (last error: ${(lastError as Error)?.message})\n${this.debugLogTail()}`,
      );
    } finally {
      await probe.close();
    }
  }
}

/**
 * `describe` for a suite that needs a real bitcoind: without one it is skipped, and the
 * reason is both in the suite's title and printed once, so a skip is never a silent pass.
 */
export function describeWithBitcoind(title: string, body: () => void): void {
  if (BITCOIND_SKIP_REASON) console.warn(`[real-node] skipping "${title}": ${BITCOIND_SKIP_REASON}`);
  const fullTitle = BITCOIND_SKIP_REASON ? `${title} (skipped: ${BITCOIND_SKIP_REASON})` : title;
  describe.skipIf(BITCOIND_SKIP_REASON !== undefined)(fullTitle, body);
}
