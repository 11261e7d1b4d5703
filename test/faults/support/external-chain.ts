/**
 * The chain side of the service-level fault tests: `cryptoassets simulate-bitcoind` as a
 * child process of the real CLI, with whatever walletnotify/blocknotify shell commands the
 * test needs (curl to the service's HTTP listeners, redis-cli publish…), a funded "payer"
 * wallet and our empty "ours" wallet. The test talks to the simulator directly; the helper
 * service may be pointed elsewhere (a faulty proxy).
 */
import { LosslessNumber } from "lossless-json";
import { BitcoindRpcClient } from "../../../src/backends/bitcoind/rpc-client.js";
import { type CliProcess, killChild, runCli } from "../../service/support.js";

export const RPC_USER = "cryptoassets";

export interface ExternalChain {
  cli: CliProcess;
  /** Direct RPC URL with credentials (no wallet path). */
  url: string;
  port: number;
  password: string;
  payer: BitcoindRpcClient;
  ours: BitcoindRpcClient;
  /** Mines to the payer; the simulator runs the notify commands right after (not awaited). */
  mine(blocks?: number): Promise<void>;
  /** The payer pays `amount` (decimal string) to `address`; returns the txid. */
  pay(address: string, amount: string): Promise<string>;
  height(): Promise<number>;
  close(): Promise<void>;
}

/** A shell guard so walletnotify fires only for our wallet (the payer's sends notify too). */
export const ONLY_OURS = "[ %w = 'ours' ] && ";

export async function startExternalChain(options: {
  walletnotify?: string;
  blocknotify?: string;
  password?: string;
}): Promise<ExternalChain> {
  const password = options.password ?? "cryptoassets";
  const args = ["simulate-bitcoind", "--port", "0", "--rpcuser", RPC_USER];
  if (options.walletnotify) args.push("--walletnotify", options.walletnotify);
  if (options.blocknotify) args.push("--blocknotify", options.blocknotify);
  // The password through the environment keeps it out of `ps`, as the CLI recommends.
  const cli = runCli(args, { SIMULATE_BITCOIND_RPCPASSWORD: password });
  const clients: BitcoindRpcClient[] = [];
  try {
    const match = await cli.waitForOutput(/JSON-RPC at http:\/\/[^:]+:\*\*\*@127\.0\.0\.1:(\d+)\//);
    const port = Number(match[1]);
    const url = `http://${RPC_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/`;
    const root = new BitcoindRpcClient({ url });
    const payer = new BitcoindRpcClient({ url, wallet: "payer" });
    const ours = new BitcoindRpcClient({ url, wallet: "ours" });
    clients.push(root, payer, ours);
    await root.call("createwallet", ["payer"]);
    await root.call("createwallet", ["ours"]);
    const payerAddress = String(await payer.call("getnewaddress"));
    await payer.call("generatetoaddress", [101, payerAddress]);
    return {
      cli,
      url,
      port,
      password,
      payer,
      ours,
      mine: async (blocks = 1) => {
        await payer.call("generatetoaddress", [blocks, payerAddress]);
      },
      pay: async (address, amount) =>
        String(await payer.call("sendtoaddress", [address, new LosslessNumber(amount)])),
      height: async () => Number(String(await root.call("getblockcount"))),
      close: async () => {
        await Promise.allSettled(clients.map((client) => client.close()));
        await killChild(cli);
      },
    };
  } catch (error) {
    await Promise.allSettled(clients.map((client) => client.close()));
    await killChild(cli);
    throw error;
  }
}
