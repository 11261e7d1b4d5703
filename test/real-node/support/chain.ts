/**
 * The chain a real-node scenario runs on: real Bitcoin Core (test/support/bitcoind.ts) or
 * the simulator as a `simulate-bitcoind` child (test/faults/support/external-chain.ts), both
 * with a funded "payer" wallet, our empty "ours" wallet, and walletnotify/blocknotify
 * calling the helper service's HTTP listeners through curl, as a bitcoind.conf would.
 */
import { BitcoindRpcClient } from "../../../src/backends/bitcoind/rpc-client.js";
import { type ExternalChain, startExternalChain } from "../../faults/support/external-chain.js";
import { notifyCommand } from "../../service/regtest.js";
import { FUNDING_BLOCKS, RegtestNode } from "../../support/bitcoind.js";

export type ChainKind = "bitcoind" | "simulator";

export interface ScenarioChain extends Omit<ExternalChain, "cli"> {
  kind: ChainKind;
  /** RPC user (the password is in ExternalChain). */
  user: string;
  /** Node-level calls (no wallet): invalidateblock, getblockhash… */
  root: BitcoindRpcClient;
  /** The real node, for kill -9 and restart (bitcoind only). */
  node?: RegtestNode;
  bestBlockHash(): Promise<string>;
}

export interface NotifyPorts {
  walletnotify: number;
  blocknotify: number;
}

export async function startScenarioChain(kind: ChainKind, ports: NotifyPorts): Promise<ScenarioChain> {
  // The guard keeps the payer's own transactions (and 101 coinbases) from calling curl.
  const walletnotify = notifyCommand("txid", ports.walletnotify, true);
  const blocknotify = notifyCommand("blockhash", ports.blocknotify, false);
  return kind === "bitcoind"
    ? startBitcoindChain(walletnotify, blocknotify)
    : startSimulatorChain(walletnotify, blocknotify);
}

async function startSimulatorChain(walletnotify: string, blocknotify: string): Promise<ScenarioChain> {
  const chain = await startExternalChain({ walletnotify, blocknotify });
  const root = new BitcoindRpcClient({ url: chain.url });
  const { cli: _cli, ...rest } = chain;
  return {
    ...rest,
    kind: "simulator",
    user: decodeURIComponent(new URL(chain.url).username),
    root,
    bestBlockHash: async () => String(await root.call("getbestblockhash")),
    close: async () => {
      await root.close();
      await chain.close();
    },
  };
}

async function startBitcoindChain(walletnotify: string, blocknotify: string): Promise<ScenarioChain> {
  const node = await RegtestNode.start({ walletnotify, blocknotify });
  try {
    const payer = await node.createWallet("payer");
    const ours = await node.createWallet("ours");
    const payerAddress = String(await payer.call("getnewaddress"));
    await node.mine(FUNDING_BLOCKS, "payer", payerAddress);
    const url = new URL(node.url);
    return {
      kind: "bitcoind",
      url: node.url,
      port: node.rpcPort,
      user: url.username,
      password: node.password,
      root: node.rpc(),
      payer,
      ours,
      node,
      mine: async (blocks = 1) => {
        await node.mine(blocks, "payer", payerAddress);
      },
      pay: (address, amount) => node.pay("payer", address, amount),
      height: () => node.height(),
      bestBlockHash: async () => String(await node.rpc().call("getbestblockhash")),
      close: () => node.stop(),
    };
  } catch (error) {
    await node.stop();
    throw error;
  }
}
