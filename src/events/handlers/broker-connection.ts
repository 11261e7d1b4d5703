/**
 * What the broker handlers (redis-stream, amqp, nats) share. One connection per handler,
 * opened at the first delivery and reused; dropped when it breaks, so the next delivery opens
 * a new one; closed at shutdown. Every delivery has a deadline (`timeout`, connecting
 * included). A broker that is down or slow makes a failed attempt (`DeliveryFailedError`,
 * retried on the dispatcher's schedule), never an exception outside `deliver()` and never a
 * crash. URLs are shown masked (logs, errors, the attempt history).
 */
import { HANDLER_TIMEOUTS } from "../../config/defaults.js";
import { DeliveryFailedError, errorMessage } from "../../errors.js";
import { type Logger, silentLogger } from "../../log.js";
import { cleanExternalError } from "../../redact/external-text.js";
import { maskUrl, urlSecrets } from "../../redact/url.js";
import type { Subscription } from "../subscription.js";
import type { CryptoassetsEvent } from "../types.js";
import {
  type DeliveryResult,
  type EventHandler,
  type EventHandlerKind,
  secondsToMs,
  withinDeadline,
} from "./handler.js";

/** Seconds one delivery may take, connecting included, unless `timeout` says otherwise. */
export const DEFAULT_BROKER_TIMEOUT_SECONDS = HANDLER_TIMEOUTS.broker;

export class LazyConnection<C> {
  #opening: Promise<C> | undefined;
  #current: C | undefined;
  #closed = false;

  constructor(
    private readonly open: () => Promise<C>,
    private readonly shut: (connection: C) => Promise<void>,
  ) {}

  /** The open connection, or a new one; concurrent callers share one attempt. */
  get(): Promise<C> {
    if (this.#closed) return Promise.reject(new DeliveryFailedError("the handler is closed"));
    if (!this.#opening) {
      const opening = this.open().then((connection) => {
        if (this.#opening === opening) this.#current = connection;
        else void this.shut(connection).catch(() => undefined); // closed or discarded meanwhile
        return connection;
      });
      this.#opening = opening;
      opening.catch(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  /** Forgets a broken connection (closing what is left of it); the next get() opens another. */
  discard(connection: C): void {
    if (this.#current !== connection) return;
    this.#current = undefined;
    this.#opening = undefined;
    this.shut(connection).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = undefined;
    this.#current = undefined;
    const connection = await opening?.catch(() => undefined);
    if (connection !== undefined) await this.shut(connection).catch(() => undefined);
  }
}

export interface BrokerHandlerOptions {
  /** The broker's URL; credentials in it are never shown. */
  url: string;
  /** Seconds per delivery, connecting included (default 10). */
  timeout?: number;
  /** Only these events (handlers built in code; configured ones use `subscribe`). */
  subscription?: Subscription;
  logger?: Logger;
}

/** The frame of a broker handler: settings, the lazy connection, the deadline, the error shape. */
export abstract class BrokerEventHandler<C> implements EventHandler {
  abstract readonly kind: EventHandlerKind;
  readonly timeoutMs: number;
  readonly subscription: Subscription | undefined;
  /** The URL with its credentials masked: for logs and errors. */
  readonly shownUrl: string;
  /** The URL's password and query values, and what a subclass adds (a token). */
  readonly redactions: string[];
  protected readonly logger: Logger;
  protected readonly connection: LazyConnection<C>;

  constructor(
    readonly name: string,
    options: BrokerHandlerOptions,
    module: string,
  ) {
    this.timeoutMs = secondsToMs(options.timeout ?? DEFAULT_BROKER_TIMEOUT_SECONDS, `events.${name}.timeout`);
    this.subscription = options.subscription;
    this.shownUrl = maskUrl(options.url);
    this.redactions = urlSecrets(options.url);
    this.logger = (options.logger ?? silentLogger).child({ module, handler: name });
    this.connection = new LazyConnection(
      () => this.open(),
      (connection) => this.shut(connection),
    );
  }

  /** Connects (and sets up what publishing needs); called at the first delivery and after a break. */
  protected abstract open(): Promise<C>;
  protected abstract shut(connection: C): Promise<void>;
  /** Publishes one event on `connection`; resolves once the broker acknowledged it. */
  protected abstract publish(connection: C, event: CryptoassetsEvent): Promise<string>;
  /** What one delivery of `event` does, for error messages: "XADD to s on redis://…". */
  protected abstract describe(event: CryptoassetsEvent): string;
  /** A broker client's error, fit for the log: the broker's words cleaned, our secrets masked. */
  protected loggable(error: unknown): Error {
    return cleanExternalError(error, { secrets: this.redactions });
  }

  /** Whether a failure leaves the connection usable (a refusal) rather than possibly broken. */
  protected keepsConnection(_error: unknown): boolean {
    return false;
  }

  async deliver(event: CryptoassetsEvent): Promise<DeliveryResult> {
    const started = performance.now();
    const what = this.describe(event);
    let used: C | undefined;
    try {
      const detail = await withinDeadline(
        this.timeoutMs,
        what,
        this.connection.get().then((connection) => {
          used = connection;
          return this.publish(connection, event);
        }),
      );
      return { durationMs: performance.now() - started, detail };
    } catch (error) {
      if (used !== undefined && !this.keepsConnection(error)) this.connection.discard(used);
      throw brokerFailure(what, error);
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/** A broker client's error as a failed attempt, its message prefixed with what was tried. */
function brokerFailure(what: string, error: unknown): DeliveryFailedError {
  if (error instanceof DeliveryFailedError && error.message.startsWith(what)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  return new DeliveryFailedError(`${what}: ${errorMessage(error)}`, {
    ...(typeof code === "string" ? { code } : {}),
    cause: error,
  });
}
