/**
 * Public API of cryptoassets-core: what an application needs — open a ledger (accounts,
 * addresses, sends, balances), load the configuration, run the helper service, deliver and
 * verify events, and the error classes and types. Everything else is internal. The list is
 * pinned by test/public-api.test.ts: growing it is a decision.
 */

// The daemon
export type * from "./backends/backend.js";
export { BitcoindBackend, type BitcoindBackendOptions } from "./backends/bitcoind/index.js";
export { NullBackend } from "./backends/null.js";
// Coins and amounts (bigint base units; decimal strings at the edges)
export {
  type CoinInfo,
  formatAmount,
  getCoin,
  isValidAddress,
  knownCoins,
  type NetworkName,
  parseAmount,
} from "./coins/index.js";
// Configuration
export {
  type CryptoassetsConfig,
  loadConfigFile,
  maskSecrets,
  type ParseOptions,
  parseConfig,
  parseConfigYaml,
} from "./config/index.js";
export {
  type Database,
  type DatabaseSettings,
  type InitializeResult,
  initializeDatabase,
  type OpenOptions,
  openConfiguredDatabase,
  openDatabase,
} from "./db/index.js";
// Errors (each with a stable CA_ERR_ code), logging, version
export * from "./errors.js";
// Events: handlers, webhook verification, the event types
export {
  AmqpEventHandler,
  createEventHandler,
  type DeliveryResult,
  type EventCallback,
  type EventHandler,
  type EventHandlerConfig,
  FunctionEventHandler,
  type FunctionEventHandlerOptions,
  HttpEventHandler,
  InProcessEventHandler,
  NatsEventHandler,
  RedisStreamEventHandler,
  ScriptEventHandler,
} from "./events/handlers/index.js";
export { parseWebhookBody, verifyWebhook, type WebhookHeaders } from "./events/receiver.js";
export { generateWebhookSecret } from "./events/signing.js";
export type { Subscription } from "./events/subscription.js";
export {
  type CryptoassetsEvent,
  EVENT_NAMES,
  type EventDataByName,
  type EventName,
  type TransactionType,
  type TxUpdateData,
} from "./events/types.js";
// Ledger and its database
export {
  type BalanceCheck,
  type Deposit,
  type DepositQuery,
  Ledger,
  type LedgerOptions,
  type SendOptions,
} from "./ledger/index.js";
export { createLogger, type Logger, silentLogger } from "./log.js";
// The helper service
export {
  type HelperService,
  type HelperServiceConfig,
  type HelperServiceOptions,
  type ServiceExit,
  type StatusSnapshot,
  startHelperService,
} from "./service/index.js";
export { VERSION } from "./version.js";
