export * from "./initialize.js";
export * from "./open.js";
export type * from "./schema.js";
export * from "./serializable.js";
export * from "./url.js";
