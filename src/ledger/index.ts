export * from "./accounts.js";
export * from "./addresses.js";
export * from "./broadcasts.js";
export type * from "./context.js";
export * from "./ledger.js";
export * from "./network-transactions.js";
export * from "./queries.js";
export * from "./recompute.js";
export * from "./transfers.js";
