export * from "./claim-deliveries.js";
export * from "./outbox.js";
export * from "./queries.js";
export * from "./record-outcome.js";
export * from "./write-events.js";
