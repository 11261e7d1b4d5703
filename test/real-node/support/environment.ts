/**
 * One world for real-node scenarios: a chain (real Bitcoin Core or the simulator), a faulty
 * proxy in front of it (passing everything until a scenario holds a reply), the real
 * `cryptoassets helper-service` CLI on an SQLite file, a webhook receiver on loopback, and
 * the application's own ledger on the same database. Built from the fault tests' support.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sqliteUrl } from "../../../src/db/url.js";
import { FaultyProxy } from "../../chain/support/faulty-proxy.js";
import { FaultyReceiver } from "../../faults/support/external-receiver.js";
import {
  type AppSide,
  type ServiceProcess,
  startServiceAndApp,
  tearDown,
  writeServiceConfig,
} from "../../faults/support/external-service.js";
import { freePort } from "../../support/ports.js";
import { type ChainKind, type ScenarioChain, startScenarioChain } from "./chain.js";

export interface ScenarioEnv {
  kind: ChainKind;
  dir: string;
  chain: ScenarioChain;
  /** Between the helper service and the chain (the test talks to the chain directly). */
  proxy: FaultyProxy;
  receiver: FaultyReceiver;
  service: ServiceProcess;
  app: AppSide;
  close(): Promise<void>;
}

export async function startScenarioEnv(kind: ChainKind): Promise<ScenarioEnv> {
  const dir = mkdtempSync(join(tmpdir(), `ca-real-node-${kind}-`));
  const ports = { walletnotify: await freePort(), blocknotify: await freePort() };
  let chain: ScenarioChain | undefined;
  let proxy: FaultyProxy | undefined;
  let receiver: FaultyReceiver | undefined;
  let started: { service: ServiceProcess; app: AppSide } | undefined;
  try {
    chain = await startScenarioChain(kind, ports);
    proxy = await FaultyProxy.start("127.0.0.1", chain.port, await freePort());
    receiver = await FaultyReceiver.start();
    const databaseUrl = sqliteUrl(join(dir, "ledger.db"));
    const statusPort = await freePort();
    const configPath = writeServiceConfig(dir, {
      databaseUrl,
      rpcUrl: proxy.url(chain.user, chain.password),
      statusPort,
      walletnotify: { class: "http", port: ports.walletnotify },
      blocknotifyPort: ports.blocknotify,
      receiverUrl: receiver.url,
    });
    started = await startServiceAndApp(configPath, statusPort, databaseUrl, chain, 60_000);
    const parts = { chain, proxy, receiver, ...started };
    return {
      kind,
      dir,
      ...parts,
      close: () => tearDown(dir, parts.service, parts.app, parts.receiver, parts.proxy, parts.chain),
    };
  } catch (error) {
    await tearDown(dir, started?.service, started?.app, receiver, proxy, chain);
    throw error;
  }
}
