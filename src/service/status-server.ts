/**
 * The status server (default 127.0.0.1:18881): health for load balancers and process
 * supervisors, the snapshot as JSON, Prometheus metrics, and the HTML dashboard.
 *
 * Mutating actions (redeliver) need `status-server.admin_token` as a Bearer token. Without a
 * configured token they answer 403 — a status page reachable by anyone on the network must
 * not become a way to replay payments notifications. The token is compared in constant time
 * and never rendered anywhere; failed attempts are logged first and then once a minute.
 *
 * Only requests naming a loopback host, the bound address or `status-server.allowed_hosts` in
 * `Host` are answered (DNS rebinding, see host-header.ts), and no response may be framed or
 * content-sniffed.
 *
 * The event feed (GET /events) needs `status-server.read_token` (or the admin token): event
 * data names accounts, addresses and amounts, more than a status page shows.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { EventFeedCursorError, errorMessage, StatusServerError } from "../errors.js";
import { FEED_MAX_LIMIT, FEED_MAX_WAIT_SECONDS, waitFeed } from "../events/feed.js";
import { type Logger, silentLogger } from "../log.js";
import { renderDashboard, renderDashboardFragment } from "./dashboard.js";
import { HostPolicy, isLoopbackHost } from "./host-header.js";
import type { StatusSource } from "./status.js";
import { renderSearchPage, renderTablePage } from "./status-pages.js";
import { LISTS, pageQuery, TABLES } from "./status-tables.js";
import { ThrottledWarning } from "./throttled-warning.js";

export const DEFAULT_STATUS_IP = "127.0.0.1";
export const DEFAULT_STATUS_PORT = 18881;

/** fastify, imported by the first start(): build() runs only after it. */
let Fastify: typeof import("fastify").default;

export interface StatusServerOptions {
  ip?: string;
  /** 0 picks a free port (read it back from `port`). */
  port?: number;
  adminToken?: string | undefined;
  /** Host header names answered besides loopback and the bound address (`name` or `name:port`). */
  allowedHosts?: readonly string[];
  /** Bearer token for GET /events (the admin token works too). */
  readToken?: string | undefined;
  logger?: Logger;
  /** Called when the server dies after it started (the service treats it as a failed subsystem). */
  onFailure?: (error: Error) => void;
}

function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export class StatusServer {
  private server: FastifyInstance | undefined;
  private boundPort: number | undefined;
  private readonly ip: string;
  private readonly logger: Logger;
  private readonly hosts: HostPolicy;
  private readonly failedTokens: ThrottledWarning;
  private readonly foreignHosts: ThrottledWarning;

  constructor(
    private readonly source: StatusSource,
    private readonly options: StatusServerOptions = {},
  ) {
    this.ip = options.ip ?? DEFAULT_STATUS_IP;
    this.logger = (options.logger ?? silentLogger).child({ module: "service.status-server" });
    this.hosts = new HostPolicy(this.ip, options.allowedHosts);
    this.failedTokens = new ThrottledWarning(
      this.logger,
      "rejected admin requests without a valid token (count: since the last such line; logged at most once a minute)",
    );
    this.foreignHosts = new ThrottledWarning(
      this.logger,
      "refused requests for a Host that is neither loopback nor in status-server.allowed_hosts (count: since the last such line; logged at most once a minute)",
    );
  }

  get port(): number {
    if (this.boundPort === undefined)
      throw new StatusServerError("status server: port is known only after start()");
    return this.boundPort;
  }

  get url(): string {
    const host = this.ip.includes(":") ? `[${this.ip}]` : this.ip;
    return `http://${host}:${this.boundPort ?? this.options.port ?? DEFAULT_STATUS_PORT}/`;
  }

  async start(): Promise<void> {
    // Imported at start, not with this module: embedding applications without a status server never load it.
    Fastify ??= (await import("fastify")).default;
    const server = this.build();
    const port = this.options.port ?? DEFAULT_STATUS_PORT;
    try {
      await server.listen({ host: this.ip, port });
    } catch (error) {
      await server.close().catch(() => undefined);
      throw new StatusServerError(
        `status server could not listen on ${this.ip}:${port}: ${errorMessage(error)} (set status-server.port)`,
        { cause: error },
      );
    }
    const address = server.server.address();
    this.boundPort = typeof address === "object" && address !== null ? address.port : port;
    server.server.on("error", (error) => this.options.onFailure?.(error));
    this.server = server;
    this.logger.info({ url: this.url }, "status server listening");
    if (!isLoopbackHost(this.ip.replace(/^\[|\]$/g, "")) && !this.options.adminToken) {
      this.logger.warn(
        { ip: this.ip },
        "status server listens on a non-loopback address without status-server.admin_token: whoever reaches it reads addresses, amounts and errors; bind 127.0.0.1 behind a reverse proxy with TLS and access control, list its name in status-server.allowed_hosts, and set admin_token",
      );
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await server.close();
  }

  private authorize(
    request: FastifyRequest,
    reply: FastifyReply,
    access: "admin" | "read" = "admin",
  ): boolean {
    const admin = this.options.adminToken;
    const tokens = access === "admin" ? [admin] : [this.options.readToken, admin];
    const expected = tokens.filter((t): t is string => Boolean(t));
    const key = access === "admin" ? "status-server.admin_token" : "status-server.read_token";
    if (expected.length === 0) {
      void reply
        .code(403)
        .type("text/plain")
        .send(
          access === "admin"
            ? "admin actions are disabled: set status-server.admin_token to enable them\n"
            : "the event feed is disabled: set status-server.read_token to enable it\n",
        );
      return false;
    }
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const given = match ? (match[1] as string).trim() : undefined;
    // Every configured token is compared (constant time each), whichever matches.
    const matches = given === undefined ? [] : expected.map((token) => sameToken(given, token));
    if (!matches.includes(true)) {
      this.failedTokens.record({ remote: request.ip, url: request.url });
      void reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="cryptoassets"')
        .type("text/plain")
        .send(`a valid ${access} token is required (Authorization: Bearer <${key}>)\n`);
      return false;
    }
    return true;
  }

  private build(): FastifyInstance {
    const server = Fastify({ logger: false, connectionTimeout: 30_000, requestTimeout: 30_000 });
    this.addProtections(server);
    this.addStatusRoutes(server);
    this.addTableRoutes(server);
    this.addEventRoutes(server);
    server.setErrorHandler(async (error: Error, request, reply) => {
      this.logger.error({ err: error, url: request.url }, "status request failed");
      const status = (error as { statusCode?: number }).statusCode;
      return reply
        .code(typeof status === "number" && status >= 400 && status < 600 ? status : 500)
        .type("text/plain")
        .send(`${error.message}\n`);
    });
    return server;
  }

  /** Host check (DNS rebinding) before anything, anti-framing and no-sniff headers on every reply. */
  private addProtections(server: FastifyInstance): void {
    server.addHook("onRequest", async (request, reply) => {
      if (this.hosts.allows(request.headers.host)) return;
      this.foreignHosts.record({ remote: request.ip, host: request.headers.host });
      return reply
        .code(421)
        .type("text/plain")
        .send("this Host is not served here: add it to status-server.allowed_hosts\n");
    });

    // Every response, errors and 404s included: never framed (clickjacking the redeliver
    // buttons), never sniffed into HTML.
    server.addHook("onSend", async (_request, reply, payload) => {
      const policy = reply.getHeader("content-security-policy");
      reply.header(
        "content-security-policy",
        typeof policy === "string" ? `${policy}; frame-ancestors 'none'` : "frame-ancestors 'none'",
      );
      reply.header("x-content-type-options", "nosniff");
      reply.header("x-frame-options", "DENY");
      return payload;
    });
  }

  /** Health, the snapshot, metrics, reconciliation and the dashboard. */
  private addStatusRoutes(server: FastifyInstance): void {
    server.get("/health", async (_request, reply) => {
      const health = this.source.health();
      noStore(reply);
      return reply.code(health.ok ? 200 : 503).send(health);
    });

    server.get("/status.json", async (_request, reply) => {
      noStore(reply);
      return reply.type("application/json").send(await this.source.snapshot());
    });

    server.get("/metrics", async (_request, reply) => {
      const text = await this.source.metricsText();
      return reply.type(this.source.metricsContentType).send(text);
    });

    server.get("/reconcile.json", async (_request, reply) => {
      const snapshot = await this.source.snapshot();
      noStore(reply);
      return reply.send(Object.fromEntries(snapshot.coins.map((coin) => [coin.coin, coin.reconciliation])));
    });

    server.get("/", async (request, reply) => {
      const snapshot = await this.source.snapshot();
      const fragment = (request.query as Record<string, unknown>).fragment !== undefined;
      return html(reply, fragment ? renderDashboardFragment(snapshot) : renderDashboard(snapshot), true);
    });
  }

  /** The original's pages per table, read-only and paged, as HTML and as JSON, and the search page. */
  private addTableRoutes(server: FastifyInstance): void {
    for (const name of TABLES) {
      server.get(`/${name}`, async (request, reply) => {
        const query = pageQuery(request.query as Record<string, unknown>);
        return html(reply, renderTablePage(name, await LISTS[name](this.source.database, query), query));
      });
      server.get(`/${name}.json`, async (request, reply) => {
        const query = pageQuery(request.query as Record<string, unknown>);
        noStore(reply);
        return reply.send(await LISTS[name](this.source.database, query));
      });
    }

    server.get("/search", async (request, reply) => {
      const { q = "" } = pageQuery(request.query as Record<string, unknown>);
      const tables = ["accounts", "addresses", "transactions", "network_transactions"] as const;
      const results =
        q === ""
          ? []
          : await Promise.all(
              tables.map(
                async (name) => [name, await LISTS[name](this.source.database, { q, limit: 20 })] as const,
              ),
            );
      return html(
        reply,
        renderSearchPage(
          q,
          results.map(([name, result]) => [name, result]),
        ),
      );
    });
  }

  /** The pull feed (read token) and the redeliver actions (admin token). */
  private addEventRoutes(server: FastifyInstance): void {
    // The pull feed: events after a cursor, oldest first, long-polled (src/events/feed.ts).
    server.get("/events", async (request, reply) => {
      if (!this.authorize(request, reply, "read")) return reply;
      const query = feedQuery(request.query as Record<string, unknown>);
      if (typeof query === "string") return reply.code(400).type("text/plain").send(`${query}\n`);
      const gone = new AbortController();
      request.raw.socket.once("close", () => gone.abort());
      try {
        const page = await waitFeed(this.source.database, {
          ...query,
          onCommitted: this.source.onEventsCommitted?.bind(this.source),
          signal: gone.signal,
        });
        noStore(reply);
        return reply.send(page);
      } catch (error) {
        if (error instanceof EventFeedCursorError)
          return reply.code(410).send({ error: error.message, code: error.code });
        throw error;
      }
    });

    server.post("/events/redeliver-dead", async (request, reply) => {
      if (!this.authorize(request, reply)) return reply;
      const count = await this.source.redeliverDead();
      this.logger.info({ count }, "operator redelivered every dead delivery");
      return reply.send({ redelivered: count });
    });

    server.post("/events/:id/redeliver", async (request, reply) => {
      if (!this.authorize(request, reply)) return reply;
      const { id } = request.params as { id: string };
      const count = await this.source.redeliverEvent(id);
      if (count === 0) return reply.code(404).send({ error: `no event with id ${id}` });
      this.logger.info({ event_id: id, count }, "operator redelivered an event");
      return reply.send({ redelivered: count });
    });
  }
}

const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");

/** Every HTML page: never cached, never sniffed, scripts only where the page has its own. */
function html(reply: FastifyReply, body: string, script = false) {
  noStore(reply);
  reply.header(
    "content-security-policy",
    `default-src 'self'; style-src 'unsafe-inline'; script-src ${script ? "'unsafe-inline'" : "'none'"}; form-action 'self'`,
  );
  return reply.type("text/html; charset=utf-8").send(body);
}

/** GET /events's query (`after`, `limit`, `wait` in seconds), or what is wrong with it. */
function feedQuery(
  query: Record<string, unknown>,
): { after: string | undefined; limit: number | undefined; waitMs: number } | string {
  const after = typeof query.after === "string" && query.after !== "" ? query.after : undefined;
  if (after !== undefined && !/^[0-9a-f-]{36}$/i.test(after))
    return "after: expected the event_id of the last event read (a UUID)";
  const limit = query.limit === undefined ? undefined : Number(query.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= FEED_MAX_LIMIT))
    return `limit: expected a whole number from 1 to ${FEED_MAX_LIMIT}`;
  const wait = query.wait === undefined ? 0 : Number(query.wait);
  if (!(Number.isFinite(wait) && wait >= 0 && wait <= FEED_MAX_WAIT_SECONDS))
    return `wait: expected seconds from 0 to ${FEED_MAX_WAIT_SECONDS}`;
  return { after, limit, waitMs: wait * 1000 };
}
