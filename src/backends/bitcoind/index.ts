/** The bitcoind JSON-RPC backend: client, Backend implementation, URL masking. */

export { maskUrl } from "../../redact/url.js";
export { BitcoindBackend, type BitcoindBackendOptions } from "./backend.js";
export {
  type BatchOutcome,
  BitcoindRpcClient,
  type BitcoindRpcClientOptions,
  DEFAULT_MAX_REPLY_BYTES,
  DEFAULT_RPC_TIMEOUT_MS,
  type RpcCall,
  type RpcCallOptions,
  type RpcStats,
} from "./rpc-client.js";
export { parseRpcUrl, type RpcEndpoint } from "./url.js";
