/** Public API of cryptoassets-core. */
export type * from "./backends/backend.js";
export * from "./backends/bitcoind/index.js";
export * from "./backends/null.js";
export * from "./backends/rpc-errors.js";
export * from "./broadcast/index.js";
export {
  BlockConfirmationTracker,
  ChainFollower,
  commitWithEvents,
  OpenTransactionRechecker,
  scanReceived,
  TransactionUpdater,
  type TxUpdateSink,
} from "./chain/index.js";
export * from "./coins/index.js";
export * from "./config/index.js";
export * from "./db/index.js";
export * from "./errors.js";
export {
  type DeliverableHandler,
  Dispatcher,
  type DispatcherOptions,
} from "./events/dispatcher.js";
export {
  AmqpEventHandler,
  createEventHandler,
  type DeliveryResult,
  type EventCallback,
  type EventHandler,
  FunctionEventHandler,
  HttpEventHandler,
  InProcessEventHandler,
  NatsEventHandler,
  RedisStreamEventHandler,
  ScriptEventHandler,
} from "./events/handlers/index.js";
export * from "./events/outbox/index.js";
export { parseWebhookBody, verifyWebhook, type WebhookHeaders } from "./events/receiver.js";
export * from "./events/retry-schedule.js";
export { generateWebhookSecret } from "./events/signing.js";
export type { OutboxRecipient, Subscription } from "./events/subscription.js";
export * from "./events/types.js";
export {
  type BalanceCheck,
  type Deposit,
  type DepositQuery,
  Ledger,
  type LedgerOptions,
  type SendOptions,
} from "./ledger/index.js";
export { createLogger, type Logger, silentLogger } from "./log.js";
export * from "./notify/index.js";
export {
  type DemoOptions,
  type DemoResult,
  type HelperService,
  type HelperServiceConfig,
  type HelperServiceOptions,
  runDemo,
  type ServiceExit,
  type StatusSnapshot,
  startHelperService,
} from "./service/index.js";
export {
  DEFAULT_RPC_PASSWORD,
  DEFAULT_RPC_USER,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from "./simulator/index.js";
