/**
 * The package's public API is a promise: this list is what applications may import.
 * Adding a name here is a decision (and removing one breaks someone); internals — the
 * outbox's claim and lease, the chain workers, the notify listeners — stay out.
 */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import * as errors from "../src/errors.js";
import { USER_AGENT } from "../src/events/handlers/user-agent.js";
import * as api from "../src/index.js";
import { SERVICE_VERSION } from "../src/service/helper-service.js";

// Every error class of src/errors.ts is public (an application catches them by class); a new one
// is added there on purpose, so this list follows that module instead of being written twice.
const ERRORS = Object.keys(errors);

const API = [
  // ledger and database
  "Ledger",
  "initializeDatabase",
  "openConfiguredDatabase",
  "openDatabase",
  // coins and amounts
  "formatAmount",
  "getCoin",
  "isValidAddress",
  "knownCoins",
  "parseAmount",
  // the daemon
  "BitcoindBackend",
  "NullBackend",
  // configuration
  "loadConfigFile",
  "maskSecrets",
  "parseConfig",
  "parseConfigYaml",
  // the helper service
  "startHelperService",
  // events
  "AmqpEventHandler",
  "EVENT_NAMES",
  "FunctionEventHandler",
  "HttpEventHandler",
  "InProcessEventHandler",
  "NatsEventHandler",
  "RedisStreamEventHandler",
  "ScriptEventHandler",
  "createEventHandler",
  "generateWebhookSecret",
  "parseWebhookBody",
  "verifyWebhook",
  // logging, version
  "createLogger",
  "silentLogger",
  "VERSION",
];

it("exports exactly the application API and the error classes", () => {
  expect(Object.keys(api).sort()).toEqual([...API, ...ERRORS].sort());
});

it("every exported error class derives from CryptoassetsError (one root, a CA_ERR_ code each)", () => {
  const helpers = new Set(["errorMessage", "isDeliveryFailedError", "CryptoassetsError"]);
  for (const name of ERRORS.filter((n) => !helpers.has(n))) {
    const ErrorClass = (api as unknown as Record<string, new (...args: never[]) => Error>)[name];
    expect(ErrorClass?.prototype, name).toBeInstanceOf(api.CryptoassetsError);
  }
});

it("has one version, package.json's, behind the CLI, /status.json and the webhook user-agent", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  expect(api.VERSION).toBe(pkg.version);
  expect(SERVICE_VERSION).toBe(pkg.version);
  expect(USER_AGENT).toBe(`cryptoassets/${pkg.version}`);
});
