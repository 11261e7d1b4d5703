/** The helper service: lifecycle, status server and dashboard, metrics, leadership, the demo. */
export { BackendProbe, type BackendProbeOptions } from "./backend-probe.js";
export { CoinService, type CoinServiceOptions } from "./coin-service.js";
export { DemoError, type DemoOptions, type DemoResult, runDemo } from "./demo.js";
export { startWebhookReceiver, type WebhookReceiver } from "./demo-receiver.js";
export {
  type HelperService,
  type HelperServiceOptions,
  SERVICE_VERSION,
  type ServiceExit,
  startHelperService,
} from "./helper-service.js";
export {
  advisoryLockKey,
  type LeaderLock,
  type LeaderLockFactory,
  PostgresAdvisoryLock,
  PostgresLockFactory,
  type PostgresLockOptions,
  SingleInstanceLockFactory,
} from "./leadership.js";
export { type BackendHealth, type BackendState, MeteredBackend } from "./metered-backend.js";
export { type MetricsProviders, ServiceMetrics } from "./metrics.js";
export type {
  DispatcherConfig,
  HelperServiceConfig,
  HelperServiceSettings,
  StatusServerConfig,
} from "./service-config.js";
export { type Duty, SingletonDuty, type SingletonDutyOptions } from "./singleton-duty.js";
export type { CoinStatus, ServiceInfo, StatusSnapshot, StatusSource } from "./status.js";
export * from "./status-queries.js";
export {
  DEFAULT_STATUS_IP,
  DEFAULT_STATUS_PORT,
  StatusServer,
  type StatusServerOptions,
} from "./status-server.js";
export { SubsystemRegistry, type SubsystemState, type SubsystemStatus } from "./subsystems.js";
