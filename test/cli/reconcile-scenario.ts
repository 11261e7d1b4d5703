/**
 * `cryptoassets wallet reconcile` and `import-balance` as an operator runs them (child
 * processes), on a daemon whose wallet was funded before the ledger knew it: shared by the
 * simulator suite (test/cli/reconcile.test.ts) and real Bitcoin Core
 * (test/real-node/reconcile.test.ts), so Core's real answers are what it is proven on.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LosslessNumber } from "lossless-json";
import { expect } from "vitest";
import type { BitcoindRpcClient } from "../../src/backends/bitcoind/rpc-client.js";
import { sqliteUrl } from "../../src/db/url.js";
import type { Regtest } from "../service/regtest.js";
import { runCli } from "../service/support.js";
import { waitFor } from "../support/wait.js";

const BIN = join(import.meta.dirname, "../../bin/cryptoassets.js");

/** A funded payer (Regtest of test/service/regtest.ts) and a client of the wallet "ours". */
export interface ReconcileDaemon extends Omit<Regtest, "close"> {
  ours: BitcoindRpcClient;
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the scenario; returns the reconcile figures of each step (for the report). */
export async function reconcileScenario(
  daemon: ReconcileDaemon,
  dir: string,
): Promise<Record<string, unknown>> {
  const config = join(dir, "reconcile.yaml");
  writeFileSync(
    config,
    `database: { url: "${sqliteUrl(join(dir, "reconcile.db"))}" }
coins:
  btc:
    network: regtest
    backend: { class: bitcoind, url: "${daemon.url}", wallet: ours }
status-server: { port: 0 }
service: { broadcast_period: 1, poll_period: 1 }
`,
  );
  const wallet = (...args: string[]) => cli("wallet", config, ...args);
  const json = async (...args: string[]) => {
    const result = await wallet(...args, "--json");
    expect(result.stderr, args.join(" ")).toBe("");
    return { code: result.code, body: JSON.parse(result.stdout) };
  };
  const figures: Record<string, unknown> = {};

  // The wallet holds 5 BTC from before: paid to an address the ledger never gave out.
  const before = String(await daemon.ours.call("getnewaddress"));
  await daemon.pay(before, "5");
  await daemon.mine(1);
  await json("create-account", "treasury");

  const first = await json("reconcile");
  figures.before = first.body;
  expect(first.code).toBe(0);
  expect(first.body).toMatchObject({
    status: "unaccounted",
    daemon: { trusted: "5.00000000", untrusted_pending: "0.00000000" },
    ledger: { owed: "0.00000000", block: { hash: null } },
    unaccounted: "5.00000000",
    importable: "5.00000000",
    ledger_at_daemon_block: false,
  });
  // The ledger has not looked at the chain yet: a deposit of its own could be among the 5.
  const early = await wallet("import-balance", "treasury");
  expect(early.code).toBe(1);
  expect(early.stderr).toMatch(
    /^error: import-balance refused: the ledger has processed block none, the daemon's balance is at block \d+: let the helper service catch up \(or run cryptoassets scan-received\) first\n$/,
  );

  expect((await cli("scan-received", config)).code).toBe(0);
  const imported = await json("import-balance", "treasury");
  figures.imported = imported.body;
  expect(imported.body).toMatchObject({ imported: "5.00000000", transaction: expect.any(Number) });
  const again = await json("import-balance", "treasury");
  expect(again.body).toMatchObject({ imported: "0.00000000", transaction: null });
  const tx = (await json("transactions", "--account", "treasury")).body;
  expect(tx).toEqual([
    expect.objectContaining({ type: "balance_import", state: "done", amount: "5.00000000" }),
  ]);
  expect((await json("balance", "--account", "treasury")).body.confirmed).toBe("5.00000000");
  expect((await json("reconcile")).body).toMatchObject({ status: "balanced", unaccounted: "0.00000000" });

  // A deposit the ledger knows (1 confirmation: not credited) and a send it broadcasts.
  await json("create-account", "alice");
  const { address } = (await json("create-address", "alice")).body;
  await daemon.pay(address, "1");
  await daemon.mine(1);
  expect((await cli("scan-received", config)).code).toBe(0);
  const payee = daemon.payerAddress;
  await json("send", "treasury", payee, "0.5");
  const pending = await json("reconcile");
  figures.pendingSend = pending.body;
  expect(pending.body).toMatchObject({
    status: "balanced",
    daemon: { trusted: "6.00000000" },
    ledger: {
      credited: "4.50000000",
      incoming_confirmed: "1.00000000",
      pending_sends: "0.50000000",
      owed: "6.00000000",
    },
  });
  const service = runCli(["helper-service", config]);
  try {
    await waitFor(
      "the send broadcast",
      async () => {
        const sends = (await json("transactions", "--account", "treasury")).body as Array<{ state: string }>;
        return sends.some((t) => t.state === "broadcasted") ? true : undefined;
      },
      30_000,
      500,
    );
  } finally {
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
  }
  const broadcast = await json("reconcile");
  figures.broadcast = broadcast.body;
  expect(broadcast.body).toMatchObject({ status: "balanced", ledger: { pending_sends: "0.00000000" } });
  expect(await json("recompute")).toMatchObject({ code: 0, body: { differences: 0 } });

  // Coins leave the wallet behind the ledger's back: it now holds more than the daemon.
  await daemon.ours.call("sendtoaddress", [payee, new LosslessNumber("2")]);
  await daemon.mine(1);
  expect((await cli("scan-received", config)).code).toBe(0);
  const short = await json("reconcile");
  figures.short = short.body;
  expect(short.code).toBe(1);
  expect(short.body.status).toBe("short");
  expect(short.body.unaccounted).toMatch(/^-2\.0000\d{4}$/); // 2 BTC and the fee of that payment
  const refused = await wallet("import-balance", "treasury");
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(
    /^error: import-balance refused: the ledger holds 2\.0000\d{4} btc more than the daemon's wallet \(see cryptoassets wallet reconcile\)\n$/,
  );
  const text = await wallet("reconcile");
  expect(text.code).toBe(1);
  expect(text.stdout).toMatch(/status: SHORT — the ledger holds more than the daemon's wallet/);
  return figures;
}
