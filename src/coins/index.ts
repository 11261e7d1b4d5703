export * from "./amount.js";
export * from "./errors.js";
export * from "./registry.js";
