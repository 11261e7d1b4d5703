/**
 * In-process handler: `callback: "<module specifier>#<export>"` names a function in the
 * application's code that runs inside the helper service (the original's dotted Python name,
 * in ES-module form). The module is imported once, on the first event, so a service can start
 * before the application's code is deployed; `load()` checks it eagerly instead.
 *
 * Specifiers: an absolute path, a `file:` URL, a path starting with `./` or `../` (resolved
 * against `baseDir`, normally the config file's folder; the config layer usually has made it
 * absolute already), or a package name, imported as is. Without `#export` the default export
 * is called.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DeliveryFailedError, EventHandlerConfigError, errorMessage } from "../../errors.js";
import type { CryptoassetsEvent } from "../types.js";
import { callWithTimeout, DEFAULT_FUNCTION_TIMEOUT_SECONDS, type EventCallback } from "./function.js";
import { type DeliveryResult, type EventHandler, secondsToMs } from "./handler.js";

export interface InProcessEventHandlerOptions {
  /** `"<module specifier>#<export>"`, e.g. `"./events.js#onEvent"` or `"/srv/app/events.js#onEvent"`. */
  callback: string;
  /** Folder that relative specifiers are resolved against (default: the working directory). */
  baseDir?: string;
  /** Seconds before a pending promise counts as a failed attempt (default 60). */
  timeout?: number;
}

export interface CallbackReference {
  /** What import() is given: a file URL for paths, the bare name for packages. */
  importTarget: string;
  exportName: string;
}

/** Splits `"<specifier>#<export>"` and turns a path into an importable file URL. */
export function parseCallbackReference(callback: string, baseDir: string = process.cwd()): CallbackReference {
  const hash = callback.lastIndexOf("#");
  const specifier = (hash < 0 ? callback : callback.slice(0, hash)).trim();
  const exportName = hash < 0 ? "default" : callback.slice(hash + 1).trim();
  if (specifier === "") throw new EventHandlerConfigError(`callback "${callback}" names no module`);
  if (exportName === "")
    throw new EventHandlerConfigError(`callback "${callback}" has an empty export after "#"`);
  let importTarget: string;
  if (specifier.startsWith("file:")) importTarget = specifier;
  else if (isAbsolute(specifier)) importTarget = pathToFileURL(specifier).href;
  else if (specifier.startsWith("./") || specifier.startsWith("../"))
    importTarget = pathToFileURL(resolve(baseDir, specifier)).href;
  else importTarget = specifier;
  return { importTarget, exportName };
}

export class InProcessEventHandler implements EventHandler {
  readonly kind = "in-process" as const;
  readonly timeoutMs: number;
  private readonly reference: CallbackReference;
  private loaded: Promise<EventCallback> | undefined;

  constructor(
    readonly name: string,
    private readonly options: InProcessEventHandlerOptions,
  ) {
    this.reference = parseCallbackReference(options.callback, options.baseDir);
    this.timeoutMs = secondsToMs(
      options.timeout ?? DEFAULT_FUNCTION_TIMEOUT_SECONDS,
      `events.${name}.timeout`,
    );
  }

  /** Imports the module and checks the export (once); throws DeliveryFailedError naming both. */
  load(): Promise<EventCallback> {
    if (!this.loaded) {
      this.loaded = this.importCallback();
      // A failed load is not cached: the module may be deployed or fixed before the retry.
      this.loaded.catch(() => {
        this.loaded = undefined;
      });
    }
    return this.loaded;
  }

  async deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    const fn = await this.load();
    return callWithTimeout(fn, event, this.timeoutMs, `callback ${this.options.callback}`);
  }

  async close(): Promise<void> {}

  private async importCallback(): Promise<EventCallback> {
    const { importTarget, exportName } = this.reference;
    let module: Record<string, unknown>;
    try {
      module = (await import(importTarget)) as Record<string, unknown>;
    } catch (error) {
      const message = errorMessage(error);
      throw new DeliveryFailedError(
        `events.${this.name}: cannot import module "${importTarget}" of callback "${this.options.callback}": ${message}`,
        { code: "ECALLBACK_MODULE", cause: error },
      );
    }
    const fn = module[exportName];
    if (fn === undefined) {
      throw new DeliveryFailedError(
        `events.${this.name}: module "${importTarget}" has no export "${exportName}" (callback "${this.options.callback}")`,
        { code: "ECALLBACK_EXPORT" },
      );
    }
    if (typeof fn !== "function") {
      throw new DeliveryFailedError(
        `events.${this.name}: export "${exportName}" of module "${importTarget}" is a ${typeof fn}, not a function`,
        { code: "ECALLBACK_EXPORT" },
      );
    }
    return fn as EventCallback;
  }
}
