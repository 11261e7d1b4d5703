export * from "./aliases.js";
export * from "./load.js";
export * from "./mask-secrets.js";
export * from "./schema.js";
