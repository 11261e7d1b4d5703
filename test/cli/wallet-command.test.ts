/** `cryptoassets wallet …` as operators run it: real child processes against the simulator. */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BitcoindRpcClient } from "../../src/backends/bitcoind/index.js";
import { getCoin, isValidAddress } from "../../src/coins/index.js";
import { openDatabase } from "../../src/db/index.js";
import { sqliteUrl } from "../../src/db/url.js";
import { applyDeposit, Ledger } from "../../src/ledger/index.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";

const BIN = join(import.meta.dirname, "../../bin/cryptoassets.js");
const dir = mkdtempSync(join(tmpdir(), "ca-wallet-cli-"));
const dbPath = join(dir, "ledger.db");
const config = join(dir, "one.yaml");
const twoCoins = join(dir, "two.yaml");
let sim: Simulator;

// Asynchronous on purpose: the simulator runs in this process and must keep answering.
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "wallet", ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}
const json = async (...args: string[]) => {
  const result = await cli(...args, "--json");
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
};

beforeAll(async () => {
  sim = await startSimulator({ port: 0 });
  const root = new BitcoindRpcClient({ url: sim.url });
  await root.call("createwallet", ["payer"]);
  await root.call("createwallet", ["ours"]);
  const backend = `{ class: bitcoind, url: "${sim.url}", wallet: ours }`;
  writeFileSync(
    config,
    `database: { url: "${sqliteUrl(dbPath)}" }\ncoins:\n  btc: { network: regtest, backend: ${backend} }\n`,
  );
  writeFileSync(
    twoCoins,
    `database: { url: "${sqliteUrl(dbPath)}" }\ncoins:\n  btc: { network: regtest, backend: ${backend} }\n  ltc: { network: regtest, backend: { class: "null" } }\n`,
  );
});
afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("cryptoassets wallet", () => {
  it("creates accounts and receiving addresses, shows a deposit, records a send", async () => {
    expect(await json(config, "create-account", "alice")).toMatchObject({ name: "alice" });
    const { address } = await json(config, "create-address", "alice", "--label", "order 7");
    expect(isValidAddress(getCoin("btc"), "regtest", address)).toBe(true);
    expect((await cli(config, "accounts")).stdout).toMatch(/alice\s+user\s+0\.00000000/);

    // A deposit reaching the credit threshold, applied through the ledger.
    const database = await openDatabase(sqliteUrl(dbPath));
    const ledger = await Ledger.open({ database, coin: "btc", network: "regtest" });
    await ledger.run((trx, ctx) =>
      applyDeposit(trx, ctx, {
        txid: "aa".repeat(32),
        confirmations: 3,
        blockHeight: 103,
        receives: [{ address, amount: 150_000_000n }],
      }),
    );
    await database.close();

    expect(await json(config, "balance", "--account", "alice")).toEqual({
      account: expect.any(Number),
      name: "alice",
      confirmed: "1.50000000",
      unconfirmed: "0.00000000",
    });
    const payee = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
    const sent = await json(config, "send", "alice", payee, "0.25");
    expect(sent).toMatchObject({ address: payee, amount: "0.25000000", state: "pending" });
    expect((await json(config, "balance", "--account", "alice")).confirmed).toBe("1.25000000");
    expect(await json(config, "balance")).toMatchObject({ coin: "btc", confirmed: "1.25000000" });
    const txs = await json(config, "transactions", "--account", "alice");
    expect(
      txs.map((t: { type: string; state: string; amount: string }) => [t.type, t.state, t.amount]),
    ).toEqual([
      ["broadcast", "pending", "0.25000000"],
      ["deposit", "credited", "1.50000000"],
    ]);
  });

  it("fails with exit code 1 and a clear message", async () => {
    const payee = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
    const broke = await cli(config, "send", "alice", payee, "100");
    expect(broke.code).toBe(1);
    expect(broke.stderr).toMatch(/has 1\.25000000 btc, cannot spend 100\.00000000/);
    expect((await cli(config, "send", "nobody", payee, "1")).stderr).toMatch(/no btc account "nobody"/);
    expect((await cli(config, "send", "alice", payee, "0.000000001")).stderr).toMatch(
      /more than 8 decimal places/,
    );
    // Below the dust limit: refused here, never handed to the daemon (it would refuse the whole batch).
    const dust = await cli(config, "send", "alice", payee, "0.00000001");
    expect(dust.code).toBe(1);
    expect(dust.stderr).toBe(
      "error: cannot send 0.00000001 btc: below the dust limit of 0.00000546 btc (coins.btc.dust_limit); the daemon refuses outputs worth less than the fee to spend them\n",
    );
    expect((await cli(config, "send", "alice", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "0.1")).stderr).toMatch(
      /not a btc regtest address/,
    );
    expect((await cli(config, "frobnicate")).stderr).toMatch(/unknown wallet subcommand frobnicate/);
    expect((await cli(config, "send", "alice")).stderr).toMatch(/usage: cryptoassets wallet <config> send/);
  });

  it("the original's ledger queries: received at N confirmations, account of an address, deposits, labels, recompute", async () => {
    const [alice] = (await json(config, "accounts")).filter((a: { name: string }) => a.name === "alice");
    const deposits = await json(config, "deposits", "--account", "alice");
    expect(deposits).toEqual([
      {
        id: expect.any(Number),
        txid: "aa".repeat(32),
        address: expect.any(String),
        account: alice.id,
        amount: "1.50000000",
        confirmations: 3,
        state: "credited",
        label: null,
      },
    ]);
    const address = deposits[0].address;
    expect(await json(config, "deposits", "--uncredited")).toEqual([]);
    expect(await json(config, "received", address, "--confirmations", "3")).toEqual({
      address,
      confirmations: 3,
      received: "1.50000000",
    });
    expect((await json(config, "received", address, "--confirmations", "4")).received).toBe("0.00000000");
    expect(await json(config, "account-of", address)).toEqual({ id: alice.id, name: "alice" });
    const stranger = await cli(config, "account-of", "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm");
    expect([stranger.code, stranger.stderr]).toEqual([
      1,
      "error: bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm is not a receiving address of this btc wallet\n",
    ]);
    expect(await json(config, "label", String(deposits[0].id), "order 7 paid")).toEqual({
      transaction: deposits[0].id,
      label: "order 7 paid",
    });
    expect((await json(config, "deposits"))[0].label).toBe("order 7 paid");
    const books = await cli(config, "recompute");
    expect(books.code).toBe(0);
    expect(books.stdout).toMatch(/every balance matches its transactions/);
  });

  it("send to an address of the same wallet is an internal transfer (--force-external pays through the network)", async () => {
    await json(config, "create-account", "carol");
    const { address } = await json(config, "create-address", "carol");
    const internal = await json(config, "send", "alice", address, "0.05");
    expect(internal).toMatchObject({ type: "internal", state: "done", amount: "0.05000000" });
    expect((await json(config, "balance", "--account", "carol")).confirmed).toBe("0.05000000");
    const text = await cli(config, "send", "alice", address, "0.01");
    expect(text.stdout).toMatch(
      /an address of this wallet: transferred internally to account #\d+, no network fee/,
    );
    const external = await json(config, "send", "alice", address, "0.02", "--force-external");
    expect(external).toMatchObject({ type: "broadcast", state: "pending", amount: "0.02000000" });
    expect((await json(config, "recompute")).differences).toBe(0);
  });

  it("--coin picks the coin when several are configured", async () => {
    const ambiguous = await cli(twoCoins, "accounts");
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(/several coins are configured \(btc, ltc\): pick one with --coin/);
    expect(await json(twoCoins, "create-account", "bob", "--coin", "ltc")).toMatchObject({ name: "bob" });
    const ltcAccounts = (await json(twoCoins, "accounts", "--coin", "ltc")).map(
      (a: { name: string }) => a.name,
    );
    expect(ltcAccounts).toContain("bob");
    expect(ltcAccounts).not.toContain("alice");
    expect((await cli(twoCoins, "accounts", "--coin", "xyz")).stderr).toMatch(/coin xyz is not configured/);
  });
});
