/**
 * The parties of the deposit ingest bench, each in its own process as in production (started
 * with `fork` by ./deposit-ingest.ts; `node dist-bench/bench/ingest-processes.js ROLE …`):
 *
 * - `simulator`: the regtest simulator, bitcoind's stand-in (answers gettransaction);
 * - `sender`: bitcoind's `curl --data "txid=%s"` walletnotify, 16 keep-alive senders;
 * - `holding-receiver`: the application behind the service's one HTTP event handler; it takes
 *   each delivery and never answers, so the dispatcher's slots stay busy and delivery (issue 14
 *   target 2, measured apart) does not share the service's CPU during the ingest;
 * - `service SRC CONFIG`: the helper service composed as the CLI composes it
 *   (`loadConfigFile`, `createLogger`, `startHelperService`), loaded from the build at SRC (a
 *   file: URL of a `src/` output folder: this tree's or a baseline's). Reports its own CPU
 *   (process.cpuUsage) over the measured stretch, and can profile that stretch.
 *
 * Times are epoch milliseconds with sub-millisecond precision (./support.ts `clock()`).
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { startCpuProfile } from "./cpu-profile.js";
import { clock } from "./support.js";

/** Parent → service. */
export type ServiceCommand =
  | { measure: "start"; profile?: { dir: string; name: string } }
  | { measure: "stop" }
  | "stop";
/** Service → parent. */
export type ServiceReport =
  | { addresses: string[] }
  | { started: true }
  /** Over the measured stretch: CPU (user + system), database transactions of the updater. */
  | { cpuMicros: number; batches: number; profileFile?: string };

async function simulatorMain(): Promise<void> {
  const { startSimulator } = await import("../src/simulator/index.js");
  const sim = await startSimulator({ port: 0 });
  process.send?.({ url: sim.url });
}

async function holdingReceiverMain(): Promise<void> {
  const server = createServer(() => {
    // Held: answered by nobody until the bench ends.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` });
}

/** POSTs `txid=…` as bitcoind's curl does, 16 at a time; answers with each txid's send time. */
async function senderMain(port: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent,
          host: "127.0.0.1",
          port,
          path: "/",
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.on("error", reject);
          res.on("end", resolve);
          res.resume();
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  process.on("message", async ({ txids }: { txids: string[] }) => {
    const sent: Array<[string, number]> = [];
    let next = 0;
    const sender = async () => {
      while (next < txids.length) {
        const txid = txids[next++] as string;
        sent.push([txid, clock()]);
        await post(`txid=${txid}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    agent.destroy();
    process.send?.({ sent });
  });
  process.send?.({ ready: true });
}

async function serviceMain(src: string, configPath: string, addresses: number): Promise<void> {
  const { loadConfigFile } = await import(`${src}config/load.js`);
  const { createLogger } = await import(`${src}log.js`);
  const { startHelperService } = await import(`${src}service/helper-service.js`);
  const config = loadConfigFile(configPath);
  const logger = createLogger({ level: config.service.logging?.level });
  const service = await startHelperService(config, { logger });
  const ledger = service.ledger("btc");
  const account = await ledger.createAccount("ingest");
  const list: string[] = [];
  for (let i = 0; i < addresses; i++) list.push((await ledger.createReceivingAddress(account.id)).address);
  let cpuAtStart = process.cpuUsage();
  const batches = () => service.coin("btc").runtime.updater.stats().batches as number;
  let batchesAtStart = 0;
  let stopProfile: (() => Promise<string>) | undefined;
  const send = (report: ServiceReport) => process.send?.(report);
  process.on("message", async (command: ServiceCommand) => {
    if (command === "stop") {
      await service.stop("bench done");
      process.exit(0);
    }
    if (command.measure === "start") {
      if (command.profile) stopProfile = await startCpuProfile(command.profile.dir, command.profile.name);
      cpuAtStart = process.cpuUsage();
      batchesAtStart = batches();
      send({ started: true });
      return;
    }
    const used = process.cpuUsage(cpuAtStart);
    const profileFile = await stopProfile?.();
    send({
      cpuMicros: used.user + used.system,
      batches: batches() - batchesAtStart,
      ...(profileFile ? { profileFile } : {}),
    });
  });
  send({ addresses: list });
}

const [role, ...rest] = process.argv.slice(2);
// A bench that dies must not leave its helpers behind.
if (role) process.on("disconnect", () => process.exit(0));
if (role === "simulator") await simulatorMain();
else if (role === "holding-receiver") await holdingReceiverMain();
else if (role === "sender") await senderMain(Number(rest[0]));
else if (role === "service") await serviceMain(rest[0] ?? "", rest[1] ?? "", Number(rest[2] ?? 20));
