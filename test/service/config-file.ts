/** Writes a helper-service YAML configuration the way an operator would. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ConfigFileOptions {
  databaseUrl: string;
  rpcUrl: string;
  statusPort: number;
  receiverUrl: string;
  walletnotifyPort?: number;
  blocknotifyPort?: number;
  adminToken?: string;
  /** Seconds between tip polls (no blocknotify). */
  pollPeriod?: number;
  shutdownGrace?: number;
}

export function writeConfigFile(dir: string, options: ConfigFileOptions, name = "cryptoassets.yaml"): string {
  const notify = (key: string, port: number | undefined) =>
    port === undefined
      ? ""
      : `      ${key}:
        class: cryptoassets.core.backend.httpwalletnotify.HTTPWalletNotifyHandler
        ip: 127.0.0.1
        port: ${port}
`;
  const yaml = `# helper-service test configuration
database:
  url: ${options.databaseUrl}
coins:
  btc:
    backend:
      class: cryptoassets.core.backend.bitcoind.Bitcoind
      url: ${options.rpcUrl}
      wallet: ours
      timeout: 5
${notify("walletnotify", options.walletnotifyPort)}${notify("blocknotify", options.blocknotifyPort)}    network: regtest
    max_confirmation_count: 15
    credit_threshold: 3
events:
  app:
    class: cryptoassets.core.event.http.HTTPEventHandler
    url: ${options.receiverUrl}
    timeout: 5
status-server:
  ip: 127.0.0.1
  port: ${options.statusPort}
${options.adminToken ? `  admin_token: ${options.adminToken}\n` : ""}service:
  broadcast_period: 2
  poll_period: ${options.pollPeriod ?? 1}
  shutdown_grace_period: ${options.shutdownGrace ?? 5}
  dispatcher:
    poll_interval: 1
    retry_schedule: [1, 1, 2]
`;
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}
