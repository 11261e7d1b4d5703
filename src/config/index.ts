export * from "./aliases.js";
export * from "./load.js";
export * from "./schema.js";
