/**
 * `cryptoassets demo`: the whole product on one machine, no daemon or database server
 * needed. It starts the bundled regtest simulator in-process (a "payer" wallet with 101
 * mined blocks, and "ours"), a helper service on a SQLite file in a temp dir with two event
 * handlers — a signed HTTP webhook to a small built-in receiver and a shell script that
 * appends to a log file — then does what an application does: creates an account and a
 * receiving address, gets paid, and watches the txupdate events arrive, confirmations
 * 0 → 15 (credited at 3), while a block is mined about every half second.
 *
 * Blocks are paced by the events: the next block is mined once the receiver has seen the
 * confirmations of the previous one, so every state is shown even on a slow machine.
 *
 * The simulator's walletnotify/blocknotify commands call the service's HTTP notify
 * listeners exactly as bitcoind's `curl --data "txid=%s" …` would (with `node -e` when curl
 * is missing). Listener ports are ephemeral unless `--port-base` is given; the commands read
 * them from files in the temp dir, written once the listeners are up.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { LosslessNumber } from "lossless-json";
import { BitcoindRpcClient } from "../backends/bitcoind/rpc-client.js";
import { formatAmount } from "../coins/amount.js";
import { sqliteUrl } from "../db/url.js";
import { ServiceError } from "../errors.js";
import type { CryptoassetsEvent, TxUpdateData } from "../events/types.js";
import { type Logger, silentLogger } from "../log.js";
import type { Simulator } from "../simulator/index.js";
import { shellQuote } from "../simulator/notify.js";
import { startWebhookReceiver, type WebhookReceiver } from "./demo-receiver.js";
import { type HelperService, startHelperService } from "./helper-service.js";
import type { HelperServiceConfig } from "./service-config.js";

export interface DemoOptions {
  /** Stop once the deposit is final (max confirmations delivered); default false (run until aborted). */
  once?: boolean;
  /** Ports base..base+4: simulator, status server, webhook receiver, walletnotify, blocknotify. Default: ephemeral. */
  portBase?: number;
  /** Database URL, or a path to a SQLite file; default a SQLite file in the temp dir. */
  db?: string;
  /** Minimum time between blocks (default 500 ms). */
  blockIntervalMs?: number;
  /** How long to wait for one event before giving up (default 30 s). */
  eventTimeoutMs?: number;
  /** Where the demo's narrative goes (default console.log). */
  print?: (line: string) => void;
  /** The helper service's own logs (default: none). */
  logger?: Logger;
  /** Abort to stop the demo (Ctrl-C). */
  signal?: AbortSignal;
  /** Called once the dashboard is up (tests, the browser check). */
  onReady?: (info: { dashboardUrl: string; address: string }) => void;
}

export interface DemoResult {
  txid: string;
  address: string;
  /** Confirmation states delivered to the webhook receiver, in arrival order (duplicates removed). */
  confirmations: number[];
  /** The account's credited balance at the end, decimal string. */
  balance: string;
  dashboardUrl: string;
}

export class DemoError extends ServiceError {
  override name = "DemoError";
}

const DEMO_AMOUNT = "0.50000000";
const MAX_CONFIRMATIONS = 15;
const CREDIT_THRESHOLD = 3;

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** The -walletnotify / -blocknotify command: POST `<field>=%s` to the port read from portFile. */
function notifyCommand(portFile: string, field: "txid" | "blockhash", onlyWallet?: string): string {
  const file = shellQuote(portFile);
  const url = `"http://127.0.0.1:$(cat ${file})/"`;
  const post = onPath("curl")
    ? `curl -s -m 5 --data ${field}=%s ${url}`
    : `${shellQuote(process.execPath)} -e 'fetch(process.argv[1],{method:"POST",body:process.argv[2]}).catch(()=>{})' ${url} ${field}=%s`;
  const guard = onlyWallet === undefined ? "" : `[ %w = ${shellQuote(onlyWallet)} ] && `;
  // Until the listener is up there is no port file: the notification is dropped, as bitcoind's
  // curl would fail against a service that is not running yet (the start-up scan catches up).
  return `${guard}[ -r ${file} ] && ${post} >/dev/null 2>&1; true`;
}

function databaseUrl(db: string | undefined, dir: string): string {
  if (db === undefined) return sqliteUrl(join(dir, "demo.db"));
  if (db.includes("://")) return db;
  return sqliteUrl(isAbsolute(db) ? db : resolve(db));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolveSleep) => {
    if (signal?.aborted) return resolveSleep();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolveSleep();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

function describeEvent(data: TxUpdateData, eventId: string): string {
  const conf = String(data.confirmations).padStart(2);
  const credited = data.credited ? "credited    " : "not credited";
  return `  txupdate  confirmations ${conf}  ${credited}  ${data.amount} ${data.coin_name.toUpperCase()}  ${data.transaction_type}  txid ${data.txid.slice(0, 16)}…  event ${eventId}`;
}

/** The demo's helper service: the simulator's "ours" wallet, a signed webhook and a script handler. */
function demoConfig(o: {
  databaseUrl: string;
  daemonUrl: string;
  receiverUrl: string;
  secret: string;
  scriptLog: string;
  port: (offset: number) => number;
}): HelperServiceConfig {
  return {
    database: { url: o.databaseUrl },
    coins: {
      btc: {
        backend: {
          class: "bitcoind",
          url: o.daemonUrl,
          wallet: "ours",
          walletnotify: { class: "http", ip: "127.0.0.1", port: o.port(3) },
          blocknotify: { class: "http", ip: "127.0.0.1", port: o.port(4) },
        },
        network: "regtest",
        max_confirmation_count: MAX_CONFIRMATIONS,
        credit_threshold: CREDIT_THRESHOLD,
      },
    },
    events: {
      webhook: { class: "http", url: o.receiverUrl, secret: o.secret, format: "form", timeout: 10 },
      script: {
        class: "script",
        script: `echo "$CRYPTOASSETS_EVENT_ID $CRYPTOASSETS_EVENT_DATA" >> ${shellQuote(o.scriptLog)}`,
        timeout: 10,
      },
    },
    "status-server": { ip: "127.0.0.1", port: o.port(1) },
    service: {
      broadcast_period: 5,
      poll_period: 2,
      shutdown_grace_period: 5,
      dispatcher: { poll_interval: 1 },
    },
  };
}

/**
 * The demo deposit's events as the webhook receiver gets them, deduplicated by event id
 * (deliveries are at-least-once), and a wait for a given number of confirmations.
 */
function watchDeposit(print: (line: string) => void, eventTimeout: number, signal?: AbortSignal) {
  const received: CryptoassetsEvent<"txupdate">[] = [];
  let wake: (() => void) | undefined;
  const seen = () => received.map((event) => event.data.confirmations);
  const watch = {
    address: "",
    seen,
    onEvent(event: CryptoassetsEvent, duplicate: boolean): void {
      if (event.event_name !== "txupdate") return;
      const data = (event as CryptoassetsEvent<"txupdate">).data;
      if (data.address !== watch.address) return;
      if (duplicate) {
        print(`  (repeated delivery of event ${event.event_id} ignored: deliveries are at-least-once)`);
        return;
      }
      received.push(event as CryptoassetsEvent<"txupdate">);
      print(describeEvent(data, event.event_id));
      wake?.();
    },
    /** False when the demo was stopped meanwhile. */
    async waitFor(confirmations: number): Promise<boolean> {
      const deadline = Date.now() + eventTimeout;
      while (!seen().includes(confirmations)) {
        if (signal?.aborted) return false;
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new DemoError(
            `no txupdate with ${confirmations} confirmation(s) reached the webhook receiver within ${eventTimeout / 1000}s (seen: ${seen().join(", ") || "none"}); see the dashboard for failing deliveries`,
          );
        }
        await new Promise<void>((resolveWait) => {
          const timer = setTimeout(resolveWait, Math.min(left, 250));
          wake = () => {
            clearTimeout(timer);
            resolveWait();
          };
        });
      }
      return true;
    },
  };
  return watch;
}

/** What the demo started, closed in reverse order at the end whatever happened. */
interface DemoParts {
  dir: string;
  sim?: Simulator;
  receiver?: WebhookReceiver;
  service?: HelperService;
  clients: BitcoindRpcClient[];
}

async function closeDemo(parts: DemoParts): Promise<void> {
  await parts.service?.stop("demo finished");
  await parts.receiver?.close();
  await Promise.allSettled(parts.clients.map((client) => client.close()));
  await parts.sim?.close();
  rmSync(parts.dir, { recursive: true, force: true });
}

/** The simulator with a "payer" wallet holding 101 mined blocks, and "ours" for the service. */
async function startDemoChain(parts: DemoParts, port: (offset: number) => number) {
  // Imported here: the simulator (and bitcoinjs-lib) is not loaded with the library's index.
  const { startSimulator } = await import("../simulator/index.js");
  const sim = await startSimulator({
    port: port(0),
    walletNotify: notifyCommand(join(parts.dir, WALLETNOTIFY_PORT_FILE), "txid", "ours"),
    blockNotify: notifyCommand(join(parts.dir, BLOCKNOTIFY_PORT_FILE), "blockhash"),
  });
  parts.sim = sim;
  const rpc = (wallet?: string) => {
    const client = new BitcoindRpcClient({ url: sim.url, ...(wallet ? { wallet } : {}) });
    parts.clients.push(client);
    return client;
  };
  const root = rpc();
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  const payer = rpc("payer");
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [101, payerAddress]);
  // The funding blocks' notify commands (run one at a time, as the listeners are not up yet
  // they fail fast) are done before the service starts: the deposit's walletnotify does not
  // wait behind them.
  await sim.notificationsIdle();
  return { sim, payer, mine: (blocks: number) => payer.call("generatetoaddress", [blocks, payerAddress]) };
}

/** The helper service, with its listener ports written where the notify commands read them. */
async function startDemoService(
  parts: DemoParts,
  config: HelperServiceConfig,
  options: DemoOptions,
  print: (line: string) => void,
): Promise<HelperService> {
  const service = await startHelperService(config, { logger: options.logger ?? silentLogger });
  parts.service = service;
  void service.done.then((exit) => {
    if (exit.code !== 0) print(`helper service stopped: ${exit.reason}`);
  });
  for (const listener of service.coin("btc").listenerAddresses()) {
    const listenerPort = new URL(listener.address).port;
    const file = listener.role === "walletnotify" ? WALLETNOTIFY_PORT_FILE : BLOCKNOTIFY_PORT_FILE;
    writeFileSync(join(parts.dir, file), listenerPort);
  }
  return service;
}

const WALLETNOTIFY_PORT_FILE = "walletnotify.port";
const BLOCKNOTIFY_PORT_FILE = "blocknotify.port";

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const signal = options.signal;
  const interval = options.blockIntervalMs ?? 500;
  const base = options.portBase;
  const port = (offset: number) => (base === undefined ? 0 : base + offset);
  const parts: DemoParts = { dir: mkdtempSync(join(tmpdir(), "cryptoassets-demo-")), clients: [] };
  const scriptLog = join(parts.dir, "script-handler.log");
  const secret = `whsec_${randomBytes(24).toString("base64")}`;
  const deposit = watchDeposit(print, options.eventTimeoutMs ?? 30_000, signal);

  try {
    const { sim, payer, mine } = await startDemoChain(parts, port);
    const receiver = await startWebhookReceiver({ port: port(2), secret, onEvent: deposit.onEvent });
    parts.receiver = receiver;
    const config = demoConfig({
      databaseUrl: databaseUrl(options.db, parts.dir),
      daemonUrl: sim.url,
      receiverUrl: receiver.url,
      secret,
      scriptLog,
      port,
    });
    const running = await startDemoService(parts, config, options, print);
    const dashboardUrl = running.statusUrl ?? "(status server disabled)";

    print("cryptoassets demo — regtest simulator + helper service + webhook and script handlers");
    print(`  bitcoind (simulator)  ${sim.maskedUrl}  wallets "payer" (101 blocks mined) and "ours"`);
    print(`  database              ${running.database.url}`);
    print(`  dashboard             ${dashboardUrl}`);
    print(`  webhook receiver      ${receiver.url}  (Standard Webhooks signature verified)`);
    print(`  script handler log    ${scriptLog}`);

    const ledger = running.ledger("btc");
    const account = await ledger.account("demo customer");
    const created = await ledger.createReceivingAddress(account.id, { label: "demo deposit" });
    deposit.address = created.address;
    print(`account "demo customer" (#${account.id}) receiving address ${deposit.address}`);
    options.onReady?.({ dashboardUrl, address: deposit.address });

    const txid = String(
      await payer.call("sendtoaddress", [deposit.address, new LosslessNumber(DEMO_AMOUNT)]),
    );
    print(`payer sent ${DEMO_AMOUNT} BTC in ${txid}; mining a block about every ${interval / 1000}s`);

    if (await deposit.waitFor(0)) {
      for (let height = 1; height <= MAX_CONFIRMATIONS && !signal?.aborted; height++) {
        const started = Date.now();
        await mine(1);
        if (!(await deposit.waitFor(height))) break;
        await sleep(Math.max(0, interval - (Date.now() - started)), signal);
      }
    }
    const balance = formatAmount((await ledger.accountBalance(account.id)).confirmed, 8);
    const states = deposit.seen();
    if (states.includes(MAX_CONFIRMATIONS)) {
      print(
        `deposit final: ${new Set(states).size} confirmation states delivered (credited at ${CREDIT_THRESHOLD}); account balance ${balance} BTC`,
      );
    }
    if (!options.once && !signal?.aborted) {
      print(
        `still mining (a block every ${(interval * 4) / 1000}s); dashboard at ${dashboardUrl} — press Ctrl-C to stop`,
      );
      while (!signal?.aborted) {
        await sleep(interval * 4, signal);
        if (!signal?.aborted) await mine(1);
      }
    }
    return { txid, address: deposit.address, confirmations: states, balance, dashboardUrl };
  } finally {
    await closeDemo(parts);
  }
}
