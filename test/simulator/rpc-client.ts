/** A plain-fetch JSON-RPC caller for the simulator tests (no product code involved). */
import { LosslessNumber, parse } from "lossless-json";
import type { Simulator } from "../../src/simulator/index.js";

export interface RawReply {
  status: number;
  text: string;
  body: unknown;
}

export function authHeader(sim: Simulator, user = sim.rpcUser, password = sim.rpcPassword): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

export async function post(
  sim: Simulator,
  path: string,
  body: string,
  auth = authHeader(sim),
): Promise<RawReply> {
  const response = await fetch(`http://${sim.host}:${sim.port}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: auth },
    body,
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text.trim() === "" ? null : parse(text, null, parseNumber);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, text, body: parsed };
}

/** Integers become numbers; decimals stay exact text (amounts must never pass through a float). */
function parseNumber(value: string): unknown {
  return /^-?\d+$/.test(value) ? Number(value) : new LosslessNumber(value);
}

/** One JSON-RPC 1.0 call, as bitcoin-cli sends it. `params` is raw JSON text. */
export function call(
  sim: Simulator,
  method: string,
  params: string | unknown[] = "[]",
  path = "/",
): Promise<RawReply> {
  const paramsText = typeof params === "string" ? params : JSON.stringify(params);
  return post(
    sim,
    path,
    `{"jsonrpc":"1.0","id":"s","method":${JSON.stringify(method)},"params":${paramsText}}`,
  );
}

/** Call and return the result, failing loudly on an RPC error. */
export async function result(
  sim: Simulator,
  method: string,
  params: string | unknown[] = "[]",
  path = "/",
): Promise<unknown> {
  const reply = await call(sim, method, params, path);
  const body = reply.body as { result: unknown; error: unknown };
  if (reply.status !== 200 || body.error !== null) {
    throw new Error(`${method} failed: HTTP ${reply.status} ${reply.text}`);
  }
  return body.result;
}

/** A number from a lossless-json value, via its exact text. */
export function text(value: unknown): string {
  return String(value);
}
