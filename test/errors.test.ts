import { describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../src/backends/bitcoind/rpc-client.js";
import * as errors from "../src/errors.js";
import { freePort } from "./support/ports.js";

/** One instance of every error class, built with representative arguments. */
function instances(): Array<[string, errors.CryptoassetsError]> {
  const built: Array<[string, errors.CryptoassetsError]> = [];
  for (const [name, value] of Object.entries(errors)) {
    if (
      typeof value !== "function" ||
      !(value.prototype instanceof Error) ||
      name === "ScriptNotificationFailed"
    )
      continue;
    const Class = value as unknown as new (...args: unknown[]) => errors.CryptoassetsError;
    const args: Record<string, unknown[]> = {
      TransactionRetryExhaustedError: [5, new Error("conflict")],
      SubsystemFailedError: ["btc.chain", new Error("boom")],
      RpcTransportError: ["refused", "refused", "http://x/"],
      WebhookVerificationError: ["bad_signature", "bad signature"],
      ScriptNotificationFailedError: ["exit 1", { exitCode: 1, stderr: "" }],
    };
    const rpc = value.prototype instanceof errors.RpcError || value === errors.RpcError;
    built.push([name, new Class(...(args[name] ?? (rpc ? [-1, "failed", "getinfo"] : ["message"])))]);
  }
  return built;
}

describe("src/errors.ts", () => {
  it("every error is a CryptoassetsError with its own stable CA_ERR_ code", () => {
    const all = instances();
    expect(all.length).toBeGreaterThan(30);
    const codes = new Map<string, string>();
    for (const [name, error] of all) {
      expect(error, name).toBeInstanceOf(errors.CryptoassetsError);
      expect(error.code, name).toMatch(/^CA_ERR(_[A-Z_]+)?$/);
      // A script failure is a delivery failure: it carries the failure's code like its parent.
      if (name !== "ScriptNotificationFailedError") {
        expect(codes.get(error.code), `${name} shares ${error.code}`).toBeUndefined();
        codes.set(error.code, name);
      }
      expect(error.name, name).toBe(
        name === "ScriptNotificationFailedError" ? "ScriptNotificationFailed" : name,
      );
    }
  });

  it("a delivery failure carries its own failure code; ScriptNotificationFailed is an alias", () => {
    expect(new errors.DeliveryFailedError("x", { code: "ETIMEDOUT" }).code).toBe("ETIMEDOUT");
    expect(errors.ScriptNotificationFailed).toBe(errors.ScriptNotificationFailedError);
    const failed = new errors.ScriptNotificationFailed("script exited 2", { exitCode: 2, stderr: "no" });
    expect(failed).toBeInstanceOf(errors.DeliveryFailedError);
    expect(failed.code).toBe("CA_ERR_DELIVERY_FAILED");
  });

  it("wrapping keeps the cause", async () => {
    const conflict = new Error("could not serialize access");
    expect(new errors.TransactionRetryExhaustedError(3, conflict).cause).toBe(conflict);
    expect(new errors.SubsystemFailedError("status-server", conflict).cause).toBe(conflict);
    // A real refused connection: the transport error keeps Node's ECONNREFUSED.
    const client = new BitcoindRpcClient({
      url: `http://u:p@127.0.0.1:${await freePort()}/`,
      timeoutMs: 2000,
    });
    const error = await client.call("getblockcount").catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(errors.RpcTransportError);
    expect((error as errors.RpcTransportError).failure).toBe("refused");
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
  });

  it("errorMessage reads Errors and anything else thrown", () => {
    expect(errors.errorMessage(new Error("a"))).toBe("a");
    expect(errors.errorMessage("b")).toBe("b");
    expect(errors.errorMessage(undefined)).toBe("undefined");
  });
});
