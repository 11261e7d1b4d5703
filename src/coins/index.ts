export * from "./amount.js";
export * from "./registry.js";
