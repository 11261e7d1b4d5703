/** Public API of cryptoassets-core. */
export * from "./coins/index.js";
