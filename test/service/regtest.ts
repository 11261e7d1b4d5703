/**
 * A regtest chain for the helper-service tests: `cryptoassets simulate-bitcoind` as a child
 * process (or in-process, where a test needs no CLI), a funded "payer" wallet and an empty
 * "ours" wallet, with walletnotify/blocknotify calling the service's HTTP listeners through
 * curl, exactly as a bitcoind.conf would.
 */
import { LosslessNumber } from "lossless-json";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { type CliProcess, killChild, runCli } from "./support.js";

export interface Regtest {
  /** RPC URL with credentials (no wallet path). */
  url: string;
  payerAddress: string;
  mine(blocks?: number): Promise<void>;
  /** The payer pays `amount` (decimal string) to `address`; returns the txid. */
  pay(address: string, amount: string): Promise<string>;
  close(): Promise<void>;
}

export function notifyCommand(field: "txid" | "blockhash", port: number, onlyOurs: boolean): string {
  const guard = onlyOurs ? "[ %w = 'ours' ] && " : "";
  return `${guard}curl -s -m 5 --data ${field}=%s http://127.0.0.1:${port}/ >/dev/null 2>&1; true`;
}

async function fund(url: string): Promise<Omit<Regtest, "close" | "url"> & { clients: BitcoindRpcClient[] }> {
  const root = new BitcoindRpcClient({ url });
  const payer = new BitcoindRpcClient({ url, wallet: "payer" });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  const payerAddress = String(await payer.call("getnewaddress"));
  await payer.call("generatetoaddress", [101, payerAddress]);
  return {
    clients: [root, payer],
    payerAddress,
    mine: async (blocks = 1) => {
      await payer.call("generatetoaddress", [blocks, payerAddress]);
    },
    pay: async (address, amount) =>
      String(await payer.call("sendtoaddress", [address, new LosslessNumber(amount)])),
  };
}

/** The simulator as a child process of the real CLI. */
export async function startRegtestChild(notify: {
  walletnotify?: number;
  blocknotify?: number;
}): Promise<Regtest & { cli: CliProcess }> {
  const args = ["simulate-bitcoind", "--port", "0"];
  if (notify.walletnotify) args.push("--walletnotify", notifyCommand("txid", notify.walletnotify, true));
  if (notify.blocknotify) args.push("--blocknotify", notifyCommand("blockhash", notify.blocknotify, false));
  const cli = runCli(args);
  try {
    const match = await cli.waitForOutput(/JSON-RPC at http:\/\/([^:]+):\*\*\*@127\.0\.0\.1:(\d+)\//);
    const url = `http://${match[1]}:cryptoassets@127.0.0.1:${match[2]}/`;
    const chain = await fund(url);
    return {
      cli,
      url,
      payerAddress: chain.payerAddress,
      mine: chain.mine,
      pay: chain.pay,
      close: async () => {
        await Promise.allSettled(chain.clients.map((c) => c.close()));
        await killChild(cli);
      },
    };
  } catch (error) {
    await killChild(cli);
    throw error;
  }
}

/** The same chain with the simulator in this process (its HTTP face is the same). */
export async function startRegtestInProcess(rpcPassword?: string): Promise<Regtest> {
  const { startSimulator } = await import("../../src/simulator/index.js");
  const sim = await startSimulator({ port: 0, ...(rpcPassword ? { rpcPassword } : {}) });
  const chain = await fund(sim.url);
  return {
    url: sim.url,
    payerAddress: chain.payerAddress,
    mine: chain.mine,
    pay: chain.pay,
    close: async () => {
      await Promise.allSettled(chain.clients.map((c) => c.close()));
      await sim.close();
    },
  };
}
