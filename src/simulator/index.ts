/** The bitcoind regtest simulator: a JSON-RPC test double of Bitcoin Core over an in-memory chain. */
export { type BlockRef, Chain, type ChainListener, type ChainOptions, COIN, type SimBlock } from "./chain.js";
export { RpcCode, RpcError, SimulatorError } from "./errors.js";
export { blockNotifyCommand, shellQuote, walletNotifyCommand } from "./notify.js";
export {
  DEFAULT_RPC_PASSWORD,
  DEFAULT_RPC_USER,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "./server.js";
export type { SimTx } from "./tx.js";
