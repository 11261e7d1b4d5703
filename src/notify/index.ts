export * from "./coalescing-queue.js";
export * from "./create-listener.js";
export * from "./http-listener.js";
export type { NotifyCallback, NotifyListener } from "./listener.js";
export * from "./pipe-listener.js";
export * from "./redis-listener.js";
export { isNotifyValue, normalizeNotifyValue } from "./value.js";
