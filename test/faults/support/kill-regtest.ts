/**
 * The chain for one seed: `cryptoassets simulate-bitcoind` as a child process with a funded
 * "payer" wallet and our "ours" wallet, notifying the service through curl exactly as a
 * bitcoind.conf would (see test/service/regtest.ts). One difference: blocknotify runs curl
 * only above the funding height — the 111 blocks of funding would otherwise start 111 curl
 * processes per seed (one at a time, delaying the notifications that matter), CPU that
 * twenty seeds on two cores cannot spare, for notifications nobody listens to yet.
 */
import { BitcoindRpcClient } from "../../../src/backends/bitcoind/rpc-client.js";
import { type CliProcess, killChild, runCli } from "../../service/support.js";
import { trackChild } from "./kill-service.js";

export interface KillRegtest {
  cli: CliProcess;
  /** RPC URL with credentials (no wallet path). */
  url: string;
  payerAddress: string;
  root: BitcoindRpcClient;
  payer: BitcoindRpcClient;
  ours: BitcoindRpcClient;
  close(): Promise<void>;
}

/** Blocks mined before the service exists: 101 mature the first coinbase, ten more give the
 * payer coins for many deposits per block without long chains of unconfirmed change. */
export const FUNDING_BLOCKS = 111;

function notifyCommand(field: "txid" | "blockhash", port: number): string {
  // %w: the wallet (walletnotify), %h: the block height (blocknotify).
  const guard = field === "txid" ? "[ %w = 'ours' ]" : `[ %h -gt ${FUNDING_BLOCKS} ]`;
  return `${guard} && curl -s -m 5 --data ${field}=%s http://127.0.0.1:${port}/ >/dev/null 2>&1; true`;
}

export async function startKillRegtest(
  ports: { walletnotify: number; blocknotify: number },
  startTimeoutMs: number,
): Promise<KillRegtest> {
  const cli = runCli([
    "simulate-bitcoind",
    "--port",
    "0",
    "--walletnotify",
    notifyCommand("txid", ports.walletnotify),
    "--blocknotify",
    notifyCommand("blockhash", ports.blocknotify),
  ]);
  trackChild(cli.child);
  const clients: BitcoindRpcClient[] = [];
  const close = async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await killChild(cli);
  };
  try {
    const match = await cli.waitForOutput(
      /JSON-RPC at http:\/\/([^:]+):\*\*\*@127\.0\.0\.1:(\d+)\//,
      startTimeoutMs,
    );
    const url = `http://${match[1]}:cryptoassets@127.0.0.1:${match[2]}/`;
    const root = new BitcoindRpcClient({ url });
    const payer = new BitcoindRpcClient({ url, wallet: "payer" });
    const ours = new BitcoindRpcClient({ url, wallet: "ours" });
    clients.push(root, payer, ours);
    await root.call("createwallet", ["payer"]);
    await root.call("createwallet", ["ours"]);
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [FUNDING_BLOCKS, payerAddress]);
    return { cli, url, payerAddress, root, payer, ours, close };
  } catch (error) {
    await close();
    throw error;
  }
}
