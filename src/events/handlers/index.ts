export { AmqpEventHandler, type AmqpEventHandlerOptions, amqpRoutingKey } from "./amqp.js";
export {
  type AmqpEventHandlerConfig,
  type CreateEventHandlerOptions,
  createEventHandler,
  type EventHandlerConfig,
  type HttpEventHandlerConfig,
  type InProcessEventHandlerConfig,
  type NatsEventHandlerConfig,
  type RedisStreamEventHandlerConfig,
  type ScriptEventHandlerConfig,
} from "./factory.js";
export { type EventCallback, FunctionEventHandler, type FunctionEventHandlerOptions } from "./function.js";
export type { DeliveryResult, EventHandler, EventHandlerKind } from "./handler.js";
export { HttpEventHandler, type HttpEventHandlerOptions } from "./http.js";
export { encodeWebhookBody, type WebhookFormat } from "./http-body.js";
export {
  InProcessEventHandler,
  type InProcessEventHandlerOptions,
  parseCallbackReference,
} from "./in-process.js";
export { NatsEventHandler, type NatsEventHandlerOptions, natsSubject } from "./nats.js";
export { RedisStreamEventHandler, type RedisStreamEventHandlerOptions } from "./redis-stream.js";
export { ScriptEventHandler, type ScriptEventHandlerOptions } from "./script.js";
export { USER_AGENT } from "./user-agent.js";
