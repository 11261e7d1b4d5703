import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfigYaml } from "../../src/config/index.js";
import { DeliveryFailedError, EventHandlerConfigError, isDeliveryFailedError } from "../../src/errors.js";
import type { DeliverableHandler } from "../../src/events/dispatcher.js";
import { createEventHandler, type EventHandlerConfig } from "../../src/events/handlers/factory.js";
import { FunctionEventHandler } from "../../src/events/handlers/function.js";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { InProcessEventHandler, parseCallbackReference } from "../../src/events/handlers/in-process.js";
import { ScriptEventHandler } from "../../src/events/handlers/script.js";
import type { TxUpdateData } from "../../src/events/types.js";
import { sampleEvent } from "./helpers.js";

interface Recorded {
  args: unknown[];
}
const calls = (): Recorded[] =>
  (globalThis as unknown as { __caInProcessCalls: Recorded[] }).__caInProcessCalls;

let dir: string;
let modulePath: string;

beforeAll(async () => {
  (globalThis as unknown as { __caInProcessCalls: Recorded[] }).__caInProcessCalls = [];
  dir = await mkdtemp(join(tmpdir(), "ca-inprocess-"));
  modulePath = join(dir, "events.mjs");
  await writeFile(
    modulePath,
    `
export function onEvent(eventName, data, event) {
  globalThis.__caInProcessCalls.push({ args: [eventName, data, event] });
}
export async function onEventAsync(eventName, data) {
  await new Promise((resolve) => setTimeout(resolve, 10));
  globalThis.__caInProcessCalls.push({ args: ["async", eventName, data.amount] });
}
export function throws() {
  throw new Error("ledger sync refused amount");
}
export async function rejects() {
  throw new Error("downstream API returned 503");
}
export function hangs() {
  return new Promise(() => {});
}
export const notAFunction = 42;
export default function (eventName) {
  globalThis.__caInProcessCalls.push({ args: ["default", eventName] });
}
`,
  );
  await writeFile(join(dir, "broken.mjs"), "export const x = ;\n");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  delete (globalThis as unknown as { __caInProcessCalls?: Recorded[] }).__caInProcessCalls;
});

describe("InProcessEventHandler", () => {
  it("imports the module once and calls fn(eventName, data, event)", async () => {
    const handler = new InProcessEventHandler("app", { callback: `${modulePath}#onEvent` });
    const before = calls().length;
    const event = sampleEvent();
    await handler.deliver(event);
    await handler.deliver(sampleEvent({ confirmations: 1 }));
    const [first, second] = calls().slice(before);
    expect(first?.args).toEqual(["txupdate", event.data, event]);
    expect((second?.args[1] as TxUpdateData | undefined)?.confirmations).toBe(1);
    expect(await handler.load()).toBe(await handler.load());
  });

  it("awaits a returned promise; resolves relative specifiers against baseDir; defaults to the default export", async () => {
    const before = calls().length;
    await new InProcessEventHandler("app", { callback: "./events.mjs#onEventAsync", baseDir: dir }).deliver(
      sampleEvent(),
    );
    await new InProcessEventHandler("app", { callback: pathToFileURL(modulePath).href }).deliver(
      sampleEvent(),
    );
    expect(
      calls()
        .slice(before)
        .map((call) => call.args),
    ).toEqual([
      ["async", "txupdate", "0.50000000"],
      ["default", "txupdate"],
    ]);
  });

  it("turns a throw or a rejection into a failed attempt with the message", async () => {
    const thrown = await new InProcessEventHandler("app", { callback: `${modulePath}#throws` })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(DeliveryFailedError);
    expect((thrown as Error).message).toBe(
      `callback ${modulePath}#throws failed: ledger sync refused amount`,
    );
    const rejected = await new InProcessEventHandler("app", { callback: `${modulePath}#rejects` })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(DeliveryFailedError);
    expect((rejected as Error).message).toMatch(/failed: downstream API returned 503$/);
  });

  it("keeps the details of a DeliveryFailedError thrown from the package's copy of the library", async () => {
    // The CLI runs its bundle while an application's module imports the package (dist/index.js):
    // two copies of the class. The attempt must keep the callback's status and code all the same.
    const packageCopy = pathToFileURL(join(import.meta.dirname, "../../dist/index.js")).href;
    const callback = join(dir, "refuses.mjs");
    await writeFile(
      callback,
      `import { DeliveryFailedError } from ${JSON.stringify(packageCopy)};
export function refuses() {
  throw new DeliveryFailedError("ledger says 409", { httpStatus: 409, code: "EREFUSED" });
}
`,
    );
    const { DeliveryFailedError: OtherCopy } = (await import(
      packageCopy
    )) as typeof import("../../src/errors.js");
    expect(OtherCopy).not.toBe(DeliveryFailedError);
    const thrown = await new InProcessEventHandler("app", { callback: `${callback}#refuses` })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(OtherCopy);
    expect(isDeliveryFailedError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ message: "ledger says 409", httpStatus: 409, code: "EREFUSED" });
    expect(isDeliveryFailedError(new Error("ledger says 409"))).toBe(false);
  });

  it("fails an attempt whose promise does not settle within the timeout", async () => {
    const error = await new InProcessEventHandler("app", { callback: `${modulePath}#hangs`, timeout: 0.1 })
      .deliver(sampleEvent())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect((error as DeliveryFailedError).code).toBe("ETIMEDOUT");
  });

  it("takes its timeout from the configuration file", async () => {
    const config = parseConfigYaml(
      `
coins: { btc: { backend: { class: "null" } } }
events:
  app: { class: in-process, callback: ./events.mjs#hangs, timeout: 0.1 }
  plain: { class: in-process, callback: ./events.mjs#hangs }
`,
      { baseDir: dir },
    );
    const handler = createEventHandler("app", config.events.app as EventHandlerConfig, { baseDir: dir });
    const plain = createEventHandler("plain", config.events.plain as EventHandlerConfig, { baseDir: dir });
    expect([handler.timeoutMs, plain.timeoutMs]).toEqual([100, 60_000]);
    const error = await handler.deliver(sampleEvent()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    expect((error as DeliveryFailedError).code).toBe("ETIMEDOUT");
  });

  it("names the module and the export when the callback cannot be found", async () => {
    const missingExport = new InProcessEventHandler("app", { callback: `${modulePath}#onDeposit` });
    await expect(missingExport.deliver(sampleEvent())).rejects.toThrow(
      `module "${pathToFileURL(modulePath).href}" has no export "onDeposit"`,
    );
    await expect(
      new InProcessEventHandler("app", { callback: `${modulePath}#notAFunction` }).load(),
    ).rejects.toThrow(/export "notAFunction" of module .* is a number, not a function/);
    const missingModule = new InProcessEventHandler("app", {
      callback: "./nowhere.mjs#onEvent",
      baseDir: dir,
    });
    await expect(missingModule.load()).rejects.toMatchObject({ code: "ECALLBACK_MODULE" });
    await expect(missingModule.load()).rejects.toThrow(/cannot import module ".*nowhere\.mjs" of callback/);
    await expect(
      new InProcessEventHandler("app", { callback: join(dir, "broken.mjs") }).load(),
    ).rejects.toBeInstanceOf(DeliveryFailedError);
  });

  it("retries a failed load: a module deployed later is picked up", async () => {
    const late = join(dir, "late.mjs");
    const handler = new InProcessEventHandler("app", { callback: `${late}#onEvent` });
    await expect(handler.deliver(sampleEvent())).rejects.toMatchObject({ code: "ECALLBACK_MODULE" });
    await writeFile(
      late,
      "export function onEvent(name) { globalThis.__caInProcessCalls.push({ args: ['late', name] }); }\n",
    );
    await handler.deliver(sampleEvent());
    expect(calls().at(-1)?.args).toEqual(["late", "txupdate"]);
  });

  it("parses callback references", () => {
    expect(parseCallbackReference("/srv/app/events.js#onEvent")).toEqual({
      importTarget: "file:///srv/app/events.js",
      exportName: "onEvent",
    });
    expect(parseCallbackReference("../hooks.js#fn", "/srv/app/config")).toEqual({
      importTarget: "file:///srv/app/hooks.js",
      exportName: "fn",
    });
    expect(parseCallbackReference("my-app/events#onEvent")).toEqual({
      importTarget: "my-app/events",
      exportName: "onEvent",
    });
    expect(() => parseCallbackReference("#fn")).toThrow(EventHandlerConfigError);
    expect(() => parseCallbackReference("./x.js#")).toThrow(/empty export/);
  });
});

describe("FunctionEventHandler", () => {
  it("calls the function with the event and reports failures as failed attempts", async () => {
    const seen: string[] = [];
    const ok = new FunctionEventHandler("audit", async (eventName, data, event) => {
      seen.push(`${eventName}:${(data as { amount: string }).amount}:${event.event_id}`);
    });
    expect(ok.kind).toBe("function");
    await ok.deliver(sampleEvent());
    expect(seen).toEqual([`txupdate:0.50000000:${sampleEvent().event_id}`]);

    const failing = new FunctionEventHandler("audit", () => {
      throw new TypeError("bad state");
    });
    await expect(failing.deliver(sampleEvent())).rejects.toThrow("function failed: bad state");
  });
});

describe("createEventHandler", () => {
  it("builds each configured class", async () => {
    const http = createEventHandler("web", {
      class: "http",
      url: "http://127.0.0.1:9/",
      format: "json",
      timeout: 2,
    });
    const script = createEventHandler("sh", { class: "script", script: "true", log_output: true });
    const inProcess = createEventHandler(
      "js",
      { class: "in-process", callback: "./events.mjs#onEvent" },
      { baseDir: dir },
    );
    expect(http).toBeInstanceOf(HttpEventHandler);
    expect(script).toBeInstanceOf(ScriptEventHandler);
    expect(inProcess).toBeInstanceOf(InProcessEventHandler);
    expect([http.kind, script.kind, inProcess.kind]).toEqual(["http", "script", "in-process"]);
    expect([http.name, http.timeoutMs, script.timeoutMs, inProcess.timeoutMs]).toEqual([
      "web",
      2000,
      60_000,
      60_000,
    ]);
    // What the dispatcher accepts (checked by the compiler as much as by the test).
    const deliverable: DeliverableHandler[] = [http, script, inProcess];
    expect(deliverable.map((handler) => handler.timeoutMs)).toEqual([2000, 60_000, 60_000]);
    const before = calls().length;
    await inProcess.deliver(sampleEvent());
    expect(calls()).toHaveLength(before + 1);
    await Promise.all([http.close(), script.close(), inProcess.close()]);
  });

  it("rejects an unknown class, naming it", () => {
    const config = { class: "zeromq", url: "tcp://x" } as unknown as EventHandlerConfig;
    expect(() => createEventHandler("bus", config)).toThrow(
      'events.bus.class "zeromq" is not one of "http", "script", "in-process"',
    );
  });
});
