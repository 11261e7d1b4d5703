/**
 * The HTML dashboard (GET /). Rendered on the server from the status snapshot; every value
 * that comes from the database, the daemon or the configuration goes through `esc()` — txids,
 * addresses, handler names and error messages are all data someone else controls.
 *
 * Auto-refresh: a small inline script re-fetches `/?fragment=1` (the same rendering,
 * without the page shell) every two seconds and swaps it in, so the page stays put while
 * the numbers move. Without JavaScript it is a static snapshot.
 */

import type { EventRow, ProblemDeliveryRow } from "../events/outbox/queries.js";
import { badge, esc, page, short, table } from "./html.js";
import type { CoinStatus, StatusSnapshot } from "./status.js";

function ago(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined || at <= 0) return "never";
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

function until(at: number, now: number): string {
  const seconds = Math.round((at - now) / 1000);
  return seconds <= 0 ? "due now" : `in ${seconds}s`;
}

function stateBadge(state: string): string {
  const kind =
    state === "running" || state === "reachable" || state === "delivered"
      ? "ok"
      : state === "standby" || state === "pending" || state === "unknown"
        ? "info"
        : state === "failed" || state === "dead" || state === "unreachable"
          ? "bad"
          : "warn";
  return badge(state, kind);
}

function coinRow(coin: CoinStatus, now: number): string {
  const backend = coin.backend;
  const backendCell =
    backend.state === "unreachable"
      ? `${stateBadge(backend.state)} <span class="err">${esc(backend.lastError)}</span> <span class="muted">since ${esc(ago(backend.since, now))}</span>`
      : stateBadge(backend.state);
  const roles = [
    coin.follower_leader ? "chain follower" : "follower standby",
    coin.broadcaster_leader ? "broadcaster" : "broadcaster standby",
  ].join(", ");
  return `<tr data-coin="${esc(coin.coin)}">
<td><b>${esc(coin.coin.toUpperCase())}</b> <span class="muted">${esc(coin.wallet)}</span></td>
<td><code>${esc(coin.backend_url)}</code><br>${backendCell}</td>
<td class="num" data-tip-height="${esc(coin.tip?.height ?? "")}">${esc(coin.tip?.height ?? "–")}</td>
<td>${coin.last_walletnotify ? `<code title="${esc(coin.last_walletnotify.txid)}">${esc(short(coin.last_walletnotify.txid))}</code> ${esc(ago(coin.last_walletnotify.at, now))}` : "never"}</td>
<td>${coin.last_block ? `<code title="${esc(coin.last_block.hash)}">${esc(short(coin.last_block.hash))}</code> ${esc(ago(coin.last_block.at, now))}` : "never"}</td>
<td>${esc(roles)}</td>
</tr>`;
}

/** The hot wallet (the daemon's wallet balance) beside what the ledger owes, per coin. */
function reconciliationRow(coin: CoinStatus): string {
  const r = coin.reconciliation;
  const name = `<td><b>${esc(coin.coin.toUpperCase())}</b></td>`;
  if (r === null) return `<tr>${name}<td colspan="7" class="muted">not asked yet</td></tr>`;
  if ("error" in r)
    return `<tr>${name}<td colspan="7" class="err">daemon not asked: ${esc(r.error)}</td></tr>`;
  const status =
    r.status === "short"
      ? badge("ledger holds more than the daemon", "bad")
      : r.status === "unaccounted"
        ? badge(`${r.importable} unaccounted`, "warn")
        : badge("balanced", "ok");
  const interrupted =
    r.ledger.interrupted_broadcasts > 0
      ? badge(`${r.ledger.interrupted_sends} in ${r.ledger.interrupted_broadcasts} interrupted`, "warn")
      : "0";
  return `<tr class="reconciliation" data-coin="${esc(coin.coin)}" data-status="${esc(r.status)}">${name}
<td class="num" data-hot-wallet>${esc(r.daemon.trusted)}</td><td class="num">${esc(r.daemon.untrusted_pending)}</td><td class="num">${esc(r.daemon.immature)}</td>
<td class="num" title="credited ${esc(r.ledger.credited)} + incoming ${esc(r.ledger.incoming_confirmed)} + mempool ${esc(r.ledger.incoming_mempool)} + pending sends ${esc(r.ledger.pending_sends)}">${esc(r.ledger.owed)}</td>
<td class="num" data-unaccounted>${esc(r.unaccounted)}</td><td class="num">${interrupted}</td><td>${status}</td></tr>`;
}

function dataField(row: { data: Record<string, unknown> }, key: string): unknown {
  return row.data[key];
}

function eventRow(event: EventRow, now: number): string {
  const deliveries = event.deliveries
    .map(
      (d) =>
        `<span title="${esc(d.last_error ?? "")}">${esc(d.handler)} ${d.state === "pending" && d.attempts > 0 ? badge("failed", "warn") : stateBadge(d.state)}</span>`,
    )
    .join(" ");
  const credited = dataField(event, "credited") === true;
  return `<tr class="event" data-event-id="${esc(event.event_id)}" data-txid="${esc(dataField(event, "txid"))}" data-confirmations="${esc(dataField(event, "confirmations"))}">
<td>${esc(ago(event.created_at, now))}</td>
<td><code>${esc(event.event_id)}</code></td>
<td>${esc(event.event_name)}</td>
<td>${esc(String(dataField(event, "coin_name") ?? "").toUpperCase())} ${esc(dataField(event, "transaction_type"))}</td>
<td><code title="${esc(dataField(event, "txid"))}">${esc(short(String(dataField(event, "txid") ?? "")))}</code></td>
<td><code>${esc(dataField(event, "address"))}</code></td>
<td class="num">${esc(dataField(event, "amount"))}</td>
<td class="num">${esc(dataField(event, "confirmations"))}</td>
<td>${credited ? badge("credited", "ok") : badge("not credited", "info")}</td>
<td>${deliveries}</td>
</tr>`;
}

function problemRow(row: ProblemDeliveryRow, now: number, admin: boolean): string {
  const action = admin
    ? `<button type="button" class="redeliver" data-event-id="${esc(row.event_id)}">Redeliver</button>`
    : "";
  return `<tr data-event-id="${esc(row.event_id)}">
<td>${esc(row.handler)}</td>
<td><code>${esc(row.event_id)}</code></td>
<td><code>${esc(short(String(dataField(row, "txid") ?? "")))}</code> ${esc(dataField(row, "confirmations"))} conf.</td>
<td class="num">${esc(row.attempts)}</td>
<td class="err">${esc(row.last_status ?? "")} ${esc(row.last_error ?? "")}</td>
<td>${row.state === "dead" ? "–" : esc(until(row.next_attempt_at, now))}</td>
<td>${action}</td>
</tr>`;
}

/** The part of the page that refreshes: everything below the title. */
/** The chain side: coins, the books, subsystems, open transactions, interrupted broadcasts. */
function chainTables(status: StatusSnapshot, now: number) {
  const coins = table(
    ["Coin", "Backend", "#Tip height", "Last walletnotify", "Last block", "Duties here"],
    status.coins.map((c) => coinRow(c, now)),
    "No coins configured.",
  );
  const books = table(
    [
      "Coin",
      "#Hot wallet",
      "#Untrusted pending",
      "#Immature",
      "#Ledger owes",
      "#Unaccounted",
      "#Interrupted sends",
      "Reconciliation",
    ],
    status.coins.map(reconciliationRow),
    "No coins configured.",
  );
  const subsystems = table(
    ["Subsystem", "State", "Detail", "Since"],
    status.subsystems.map(
      (s) =>
        `<tr><td>${esc(s.name)}</td><td>${stateBadge(s.state)}</td><td>${esc(s.detail ?? "")}</td><td>${esc(ago(s.since, now))}</td></tr>`,
    ),
    "No subsystems.",
  );
  const open = table(
    ["Coin", "Type", "Txid", "#Amount", "#Confirmations", "Credited", "#Block"],
    status.open_transactions.map(
      (t) => `<tr class="open-tx" data-txid="${esc(t.txid)}" data-confirmations="${esc(t.confirmations)}">
<td>${esc(t.coin.toUpperCase())}</td><td>${esc(t.type)}</td><td><code title="${esc(t.txid)}">${esc(short(t.txid, 16))}</code></td>
<td class="num">${esc(t.amount)}</td><td class="num">${esc(t.confirmations)}</td>
<td>${t.type === "deposit" ? (t.credited ? badge("credited", "ok") : badge("not yet", "info")) : ""}</td>
<td class="num">${esc(t.block_height ?? "mempool")}</td></tr>`,
    ),
    "No open network transactions.",
  );
  const interrupted = table(
    ["Coin", "Wallet", "#Network tx id", "Opened", "#Sends", "#Amount", "Comment", "Recovery"],
    status.interrupted_broadcasts.map(
      (b) =>
        `<tr><td>${esc(b.coin.toUpperCase())}</td><td>${esc(b.wallet)}</td><td class="num">${esc(b.id)}</td><td>${esc(ago(b.opened_at, now))}</td><td class="num">${esc(b.sends)}</td><td class="num">${esc(b.amount)}</td><td><code>${esc(b.comment)}</code></td><td>${esc(b.recovery_note ?? "")}</td></tr>`,
    ),
    "None — every broadcast either completed or was never started.",
  );
  return { coins, books, subsystems, open, interrupted };
}

/** The events side: handlers' counts, recent events, failed and dead deliveries. */
function eventTables(status: StatusSnapshot, now: number, admin: boolean) {
  const handlers = table(
    ["Handler", "#Delivered", "#Pending", "#Failed", "#Dead"],
    status.events.handlers.map(
      (h) =>
        `<tr><td>${esc(h.handler)}</td><td class="num">${esc(h.delivered)}</td><td class="num">${esc(h.pending)}</td><td class="num">${h.failed > 0 ? badge(String(h.failed), "warn") : "0"}</td><td class="num">${h.dead > 0 ? badge(String(h.dead), "bad") : "0"}</td></tr>`,
    ),
    "No deliveries yet.",
  );
  const recent = table(
    ["When", "Event id", "Event", "Kind", "Txid", "Address", "#Amount", "#Conf.", "Credited", "Deliveries"],
    status.events.recent.map((e) => eventRow(e, now)),
    "No events yet.",
  );
  const problemHeaders = [
    "Handler",
    "Event id",
    "Transaction",
    "#Attempts",
    "Last error",
    "Next attempt",
    "",
  ];
  const failed = table(
    problemHeaders,
    status.events.failed.map((r) => problemRow(r, now, admin)),
    "No failed deliveries.",
  );
  const deadAction =
    admin && status.events.dead.length > 0
      ? `<p><button type="button" id="redeliver-dead">Redeliver all dead</button></p>`
      : "";
  const dead = table(
    problemHeaders,
    status.events.dead.map((r) => problemRow(r, now, admin)),
    "No dead deliveries.",
  );
  return { handlers, recent, failed, deadAction, dead };
}

export function renderDashboardFragment(status: StatusSnapshot): string {
  const now = status.generated_at;
  const admin = status.service.admin_actions;
  const health = status.health.ok
    ? badge("healthy", "ok")
    : `${badge("unhealthy", "bad")}<ul class="problems">${status.health.problems.map((p) => `<li>${esc(p)}</li>`).join("")}</ul>`;
  const service = status.service;
  const { coins, books, subsystems, open, interrupted } = chainTables(status, now);
  const { handlers, recent, failed, deadAction, dead } = eventTables(status, now, admin);
  return `<section class="summary">${health}
<p class="muted">instance <code>${esc(service.instance_id.slice(0, 8))}</code> · pid ${esc(service.pid)} · ${esc(service.state)} · up ${esc(service.uptime_seconds)}s ·
database ${esc(service.database.engine)} <code>${esc(service.database.url)}</code> · leadership ${esc(service.leadership)} ·
${admin ? "admin actions enabled (Bearer token)" : "read-only (no status-server.admin_token configured)"} · events written here ${esc(status.events.created_by_this_process)}</p></section>
<h2>Coins</h2>${coins}
<h2>Hot wallet and books</h2>${books}
<h2>Open transactions</h2>${open}
<h2>Recent events</h2>${recent}
<h2>Event handlers</h2>${handlers}
<h2>Failed deliveries</h2>${failed}
<h2>Dead deliveries</h2>${deadAction}${dead}
<h2>Interrupted broadcasts</h2>${interrupted}
<h2>Subsystems</h2>${subsystems}
<p class="muted">Updated ${esc(new Date(now).toISOString())} · <a href="/status.json">status.json</a> · <a href="/reconcile.json">reconcile.json</a> · <a href="/metrics">metrics</a> · <a href="/health">health</a></p>`;
}

const SCRIPT = `
(function(){
  var main=document.getElementById("main");
  function token(){var t=sessionStorage.getItem("cryptoassets-admin-token");if(!t){t=prompt("Admin token (status-server.admin_token)");if(t)sessionStorage.setItem("cryptoassets-admin-token",t);}return t;}
  function post(path){var t=token();if(!t)return;fetch(path,{method:"POST",headers:{authorization:"Bearer "+t}}).then(function(r){if(r.status===401||r.status===403)sessionStorage.removeItem("cryptoassets-admin-token");return r.text().then(function(b){alert(r.status+" "+b);refresh();});});}
  main.addEventListener("click",function(e){var b=e.target;if(!(b instanceof HTMLButtonElement))return;
    if(b.id==="redeliver-dead")post("/events/redeliver-dead");
    else if(b.classList.contains("redeliver"))post("/events/"+encodeURIComponent(b.getAttribute("data-event-id"))+"/redeliver");});
  function refresh(){fetch("/?fragment=1",{cache:"no-store"}).then(function(r){return r.ok?r.text():null}).then(function(html){if(html!==null)main.innerHTML=html;}).catch(function(){});}
  setInterval(refresh,2000);
})();`;

export function renderDashboard(status: StatusSnapshot): string {
  return page("", renderDashboardFragment(status), { script: SCRIPT });
}
