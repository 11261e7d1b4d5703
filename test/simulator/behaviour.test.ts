/** What the simulator does, observed only through HTTP JSON-RPC as a client would. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crypto, Transaction } from "bitcoinjs-lib";
import { afterEach, describe, expect, it } from "vitest";
import { getCoin, parseAmount, validateAddress } from "../../src/coins/index.js";
import { type Simulator, startSimulator } from "../../src/simulator/index.js";
import { authHeader, call, post, result } from "./rpc-client.js";

const sims: Simulator[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const sim = await startSimulator({ port: 0, ...options });
  sims.push(sim);
  return sim;
}

const sats = (value: unknown) => parseAmount(String(value), 8);

interface Tx {
  amount: unknown;
  fee?: unknown;
  confirmations: number;
  trusted?: boolean;
  blockhash?: string;
  walletconflicts: string[];
  details: { address: string; category: string; amount: unknown; vout: number; fee?: unknown }[];
  hex: string;
  replaced_by_txid?: string;
}

/** Two wallets like the recorded session; the payer has one mature coinbase. */
async function funded(options: Parameters<typeof startSimulator>[0] = {}) {
  const sim = await start(options);
  await result(sim, "createwallet", ["payer"]);
  await result(sim, "createwallet", ["ours"]);
  const payerAddress = (await result(sim, "getnewaddress", [], "/wallet/payer")) as string;
  const ourAddress = (await result(sim, "getnewaddress", [], "/wallet/ours")) as string;
  await result(sim, "generatetoaddress", [101, payerAddress]);
  const gettx = async (wallet: string, txid: string) =>
    (await result(sim, "gettransaction", [txid], `/wallet/${wallet}`)) as Tx;
  const mine = async (n = 1) => (await result(sim, "generatetoaddress", [n, payerAddress])) as string[];
  return { sim, payerAddress, ourAddress, gettx, mine };
}

/** The payer pays 0.1 to `first` and 0.2 to `second` in one sendmany; returns the txid. */
async function payTwo(sim: Awaited<ReturnType<typeof start>>, first: string, second: string) {
  return (await result(
    sim,
    "sendmany",
    `["", {"${first}": 0.1, "${second}": 0.2}]`,
    "/wallet/payer",
  )) as string;
}

describe("mining and coinbase maturity", () => {
  it("starts at the regtest genesis and matures a coinbase after 100 more blocks", async () => {
    const sim = await start();
    expect(await result(sim, "getblockcount")).toBe(0);
    expect(await result(sim, "getbestblockhash")).toBe(
      "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    );
    await result(sim, "createwallet", ["miner"]);
    const address = (await result(sim, "getnewaddress")) as string;
    const [first] = (await result(sim, "generatetoaddress", [1, address])) as string[];
    const block = (await result(sim, "getblock", [first])) as { tx: string[]; height: number };
    expect(block.height).toBe(1);
    const coinbase = (await result(sim, "gettransaction", [block.tx[0]])) as Tx & { generated: boolean };
    expect(coinbase.generated).toBe(true);
    expect(coinbase.details[0]?.category).toBe("immature");
    let balances = (await result(sim, "getbalances")) as { mine: Record<string, unknown> };
    expect(String(balances.mine.immature)).toBe("50.00000000");
    expect(String(balances.mine.trusted)).toBe("0.00000000");

    await result(sim, "generatetoaddress", [99, address]);
    expect(String(await result(sim, "getbalance"))).toBe("0.00000000"); // depth 100: still immature
    await result(sim, "generatetoaddress", [1, address]);
    expect(String(await result(sim, "getbalance"))).toBe("50.00000000");
    const mature = (await result(sim, "gettransaction", [block.tx[0]])) as Tx;
    expect(mature.details[0]?.category).toBe("generate");
    expect(mature.confirmations).toBe(101);
    balances = (await result(sim, "getbalances")) as { mine: Record<string, unknown> };
    expect(String(balances.mine.immature)).toBe("5000.00000000");
  });

  it("halves the regtest subsidy every 150 blocks", async () => {
    const sim = await start();
    await result(sim, "createwallet", ["miner"]);
    const address = (await result(sim, "getnewaddress")) as string;
    const hashes = (await result(sim, "generatetoaddress", [150, address])) as string[];
    const last = (await result(sim, "getblock", [hashes[149]])) as { tx: string[] };
    const coinbase = (await result(sim, "gettransaction", [last.tx[0]])) as Tx;
    expect(String(coinbase.details[0]?.amount)).toBe("25.00000000");
  });

  it("hands out regtest bech32 addresses the coin registry accepts, backed by real scripts and descriptors", async () => {
    const sim = await start();
    await result(sim, "createwallet", ["w"]);
    const address = (await result(sim, "getnewaddress", ["deposits"])) as string;
    expect(address).toMatch(/^bcrt1q[02-9ac-hj-np-z]{38}$/);
    expect(() => validateAddress(getCoin("btc"), "regtest", address)).not.toThrow();
    const info = (await result(sim, "getaddressinfo", [address])) as Record<string, unknown>;
    expect(info.ismine).toBe(true);
    expect(info.labels).toEqual(["deposits"]);
    const program = Buffer.from(crypto.hash160(Buffer.from(info.pubkey as string, "hex"))).toString("hex");
    expect(info.witness_program).toBe(program);
    expect(info.scriptPubKey).toBe(`0014${program}`);
    expect(info.desc).toMatch(/^wpkh\(\[[0-9a-f]{8}\/84h\/1h\/0h\/0\/0\][0-9a-f]{66}\)#[a-z0-9]{8}$/);
    const invalid = (await result(sim, "validateaddress", ["bc1qnotregtest"])) as { isvalid: boolean };
    expect(invalid.isvalid).toBe(false);
  });
});

describe("payments", () => {
  it("keeps both wallets' balances exact to the satoshi through a payment, its fee and a payment back", async () => {
    const { sim, ourAddress, payerAddress, gettx, mine } = await funded();
    const txid = (await result(sim, "sendtoaddress", [ourAddress, 1.5], "/wallet/payer")) as string;
    const paid = await gettx("payer", txid);
    const fee = -sats(paid.fee);
    expect(fee).toBe(2820n); // 141 vB at the 20 sat/vB fallback fee, as the recording shows
    expect(sats(paid.amount)).toBe(-150_000_000n);
    expect(paid.details).toMatchObject([{ category: "send", address: ourAddress, vout: expect.any(Number) }]);
    expect(sats(await result(sim, "getbalance", [], "/wallet/payer"))).toBe(
      50n * 100_000_000n - 150_000_000n - fee,
    );

    const received = await gettx("ours", txid);
    expect(received.trusted).toBe(false);
    expect(received.fee).toBeUndefined();
    const pending = (await result(sim, "getbalances", [], "/wallet/ours")) as {
      mine: Record<string, unknown>;
    };
    expect(sats(pending.mine.untrusted_pending)).toBe(150_000_000n);
    expect(sats(pending.mine.trusted)).toBe(0n);

    // The hex is a real transaction whose id is the txid.
    const decoded = Transaction.fromHex(received.hex);
    expect(decoded.getId()).toBe(txid);
    expect(decoded.outs.map((out) => out.value)).toContain(150_000_000n);

    await mine();
    expect(sats(await result(sim, "getbalance", [], "/wallet/ours"))).toBe(150_000_000n);
    const back = (await result(sim, "sendtoaddress", [payerAddress, "0.5"], "/wallet/ours")) as string;
    const sent = await gettx("ours", back);
    expect(sats(sent.amount)).toBe(-50_000_000n);
    expect(sats(await result(sim, "getbalance", [], "/wallet/ours"))).toBe(100_000_000n + sats(sent.fee));
  });

  it("pays two addresses in one sendmany transaction", async () => {
    const { sim, ourAddress, gettx } = await funded();
    const second = (await result(sim, "getnewaddress", [], "/wallet/ours")) as string;
    const txid = await payTwo(sim, ourAddress, second);
    expect(await result(sim, "getrawmempool")).toEqual([txid]);
    const tx = await gettx("ours", txid);
    expect(sats(tx.amount)).toBe(30_000_000n);
    // In vout order, which bitcoind shuffles (the recipients too): compared sorted.
    const details = tx.details.map((d) => [d.address, String(d.amount), d.category]);
    expect(details.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      [ourAddress, "0.10000000", "receive"],
      [second, "0.20000000", "receive"],
    ]);
    const payer = await gettx("payer", txid);
    expect(payer.details).toHaveLength(2);
    expect(payer.details.every((d) => d.category === "send" && String(d.fee) === String(payer.fee))).toBe(
      true,
    );
  });

  it("shuffles the outputs like bitcoind, the recipients too (vout order is not the request's)", async () => {
    const { sim, ourAddress } = await funded();
    const second = (await result(sim, "getnewaddress", [], "/wallet/ours")) as string;
    const orders = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const tx = (await result(
        sim,
        "gettransaction",
        [await payTwo(sim, ourAddress, second)],
        "/wallet/ours",
      )) as Tx;
      const vout = (address: string) => Number(tx.details.find((d) => d.address === address)?.vout);
      orders.add(vout(ourAddress) < vout(second) ? "as requested" : "swapped");
    }
    // 20 transactions: the chance that a fair shuffle never swaps the two is 2^-20.
    expect([...orders].sort()).toEqual(["as requested", "swapped"]);
  });

  it("shows a payment between two addresses of one wallet as both send and receive", async () => {
    const { sim, payerAddress } = await funded();
    const own = (await result(sim, "getnewaddress", [], "/wallet/payer")) as string;
    const txid = (await result(sim, "sendtoaddress", [own, 2], "/wallet/payer")) as string;
    const tx = (await result(sim, "gettransaction", [txid], "/wallet/payer")) as Tx;
    expect(tx.details.map((d) => d.category).sort()).toEqual(["receive", "send"]);
    expect(sats(tx.amount)).toBe(0n);
    expect(tx.trusted).toBe(true);
    expect(payerAddress).not.toBe(own);
  });

  it("fails like bitcoind on insufficient funds, bad addresses and bad amounts", async () => {
    const { sim, ourAddress } = await funded();
    const insufficient = await call(sim, "sendtoaddress", [ourAddress, 51], "/wallet/payer");
    expect(insufficient.status).toBe(500);
    expect(insufficient.body).toMatchObject({ error: { code: -6, message: "Insufficient funds" } });
    const badAddress = await call(sim, "sendtoaddress", ["nope", 1], "/wallet/payer");
    expect(badAddress.body).toMatchObject({ error: { code: -5, message: "Invalid Bitcoin address: nope" } });
    const tooPrecise = await call(sim, "sendtoaddress", `["${ourAddress}", 0.000000001]`, "/wallet/payer");
    expect(tooPrecise.body).toMatchObject({ error: { code: -3, message: "Invalid amount" } });
    const unknown = await call(sim, "gettransaction", ["00".repeat(32)], "/wallet/payer");
    expect(unknown.body).toMatchObject({ error: { code: -5 } });
  });
});

describe("confirmations and reorgs", () => {
  it("counts confirmations per block, drops them to 0 on invalidateblock and restores them on reconsiderblock", async () => {
    const { sim, ourAddress, gettx, mine } = await funded();
    const txid = (await result(sim, "sendtoaddress", [ourAddress, 1], "/wallet/payer")) as string;
    expect((await gettx("ours", txid)).confirmations).toBe(0);
    const [mined] = await mine();
    const before = (await result(sim, "listsinceblock", [], "/wallet/ours")) as { lastblock: string };
    expect(before.lastblock).toBe(mined);
    for (let n = 1; n <= 3; n++) {
      expect((await gettx("ours", txid)).confirmations).toBe(n);
      if (n < 3) await mine();
    }
    const tip = (await result(sim, "getbestblockhash")) as string;

    await result(sim, "invalidateblock", [mined]);
    const dropped = await gettx("ours", txid);
    expect(dropped.confirmations).toBe(0);
    expect(dropped.blockhash).toBeUndefined();
    expect(await result(sim, "getrawmempool")).toEqual([txid]);
    const header = (await result(sim, "getblockheader", [mined])) as { confirmations: number };
    expect(header.confirmations).toBe(-1);

    const since = (await result(sim, "listsinceblock", [tip, 1, false, true], "/wallet/ours")) as {
      transactions: { txid: string; confirmations: number }[];
      removed: { txid: string; confirmations: number; category: string }[];
    };
    expect(since.removed).toMatchObject([{ txid, category: "receive", confirmations: 0 }]);
    expect(since.transactions.map((t) => t.txid)).toContain(txid);

    await result(sim, "reconsiderblock", [mined]);
    expect(await result(sim, "getbestblockhash")).toBe(tip);
    expect((await gettx("ours", txid)).confirmations).toBe(3);
    expect(await result(sim, "getrawmempool")).toEqual([]);
  });

  it("follows a longer competing branch mined after invalidateblock", async () => {
    const { sim, ourAddress, gettx, mine } = await funded();
    const txid = (await result(sim, "sendtoaddress", [ourAddress, 1], "/wallet/payer")) as string;
    const [original] = await mine();
    await result(sim, "invalidateblock", [original]);
    const [replacement] = await mine(2);
    expect((await gettx("ours", txid)).blockhash).toBe(replacement);
    expect((await gettx("ours", txid)).confirmations).toBe(2);
    const tips = (await result(sim, "getchaintips")) as { hash: string; status: string }[];
    expect(tips).toContainEqual(expect.objectContaining({ hash: original, status: "invalid" }));
  });

  it("bumpfee replaces a payment; the original becomes conflicted with negative confirmations once the replacement is mined", async () => {
    const { sim, ourAddress, gettx, mine } = await funded();
    const txid = (await result(sim, "sendtoaddress", [ourAddress, 1], "/wallet/payer")) as string;
    const bumped = (await result(sim, "bumpfee", [txid], "/wallet/payer")) as {
      txid: string;
      origfee: unknown;
      fee: unknown;
    };
    expect(sats(bumped.fee)).toBeGreaterThan(sats(bumped.origfee));
    expect(await result(sim, "getrawmempool")).toEqual([bumped.txid]);
    const original = await gettx("payer", txid);
    expect(original.replaced_by_txid).toBe(bumped.txid);
    expect(original.walletconflicts).toEqual([bumped.txid]);
    await mine(2);
    expect((await gettx("payer", txid)).confirmations).toBe(-2);
    expect((await gettx("ours", txid)).confirmations).toBe(-2);
    expect((await gettx("ours", bumped.txid)).confirmations).toBe(2);
    expect(sats(await result(sim, "getbalance", [], "/wallet/ours"))).toBe(100_000_000n);
  });
});

describe("notifications", () => {
  it("runs walletnotify per wallet (shell-quoted name) and blocknotify per tip, through sh, in order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "simulator-notify-"));
    dirs.push(dir);
    const sim = await start({
      walletNotify: `echo %s %w %b %h >> ${dir}/wallet.log`,
      blockNotify: `echo %s %h >> ${dir}/block.log`,
    });
    const wallet = "it's $HOME; rm -rf /";
    await result(sim, "createwallet", [wallet]);
    await result(sim, "createwallet", ["miner"]);
    const path = `/wallet/${encodeURIComponent(wallet)}`;
    const address = (await result(sim, "getnewaddress", [], path)) as string;
    const minerAddress = (await result(sim, "getnewaddress", [], "/wallet/miner")) as string;
    const [block1] = (await result(sim, "generatetoaddress", [101, minerAddress])) as string[];
    const txid = (await result(sim, "sendtoaddress", [address, 1], "/wallet/miner")) as string;
    const [block102] = (await result(sim, "generatetoaddress", [1, minerAddress])) as string[];
    await sim.notificationsIdle();

    const blocks = readFileSync(join(dir, "block.log"), "utf8").trim().split("\n");
    expect(blocks).toHaveLength(102);
    expect(blocks[0]).toBe(`${block1} 1`);
    expect(blocks[101]).toBe(`${block102} 102`);
    const lines = readFileSync(join(dir, "wallet.log"), "utf8").trim().split("\n");
    const forTx = lines.filter((line) => line.startsWith(txid));
    expect(forTx).toEqual([
      `${txid} miner unconfirmed -1`, // the sender, at commit
      `${txid} ${wallet} unconfirmed -1`, // mempool entry: each wallet concerned, in load order
      `${txid} miner unconfirmed -1`,
      `${txid} ${wallet} ${block102} 102`, // first confirmation
      `${txid} miner ${block102} 102`,
    ]);
  });
});

describe("HTTP JSON-RPC", () => {
  it("requires basic auth: 401 with an empty body, like bitcoind", async () => {
    const sim = await start({ rpcUser: "alice", rpcPassword: "s3cret" });
    expect(sim.url).toBe(`http://alice:s3cret@127.0.0.1:${sim.port}/`);
    expect(sim.maskedUrl).not.toContain("s3cret");
    const body = '{"method":"getblockcount","params":[],"id":1}';
    const wrong = await post(sim, "/", body, authHeader(sim, "alice", "wrong"));
    expect(wrong.status).toBe(401);
    expect(wrong.text).toBe("");
    const none = await fetch(`http://127.0.0.1:${sim.port}/`, { method: "POST", body });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Basic realm="jsonrpc"');
    expect(await none.text()).toBe("");
    const ok = await post(sim, "/", body);
    expect(ok.text).toBe('{"result":0,"error":null,"id":1}\n');
    const get = await fetch(`http://127.0.0.1:${sim.port}/`, { headers: { Authorization: authHeader(sim) } });
    expect(get.status).toBe(405);
  });

  it("answers batches with HTTP 200 and JSON-RPC 2.0 errors in-band", async () => {
    const sim = await start();
    const batch = await post(
      sim,
      "/",
      '[{"jsonrpc":"2.0","id":1,"method":"getblockcount"},{"jsonrpc":"2.0","id":2,"method":"nosuch"},{"id":"x","method":"getblockhash","params":[0]}]',
    );
    expect(batch.status).toBe(200);
    expect(batch.text).toBe(
      '[{"jsonrpc":"2.0","result":0,"id":1},{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":2},{"result":"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206","error":null,"id":"x"}]\n',
    );
    const v2error = await post(sim, "/", '{"jsonrpc":"2.0","id":7,"method":"getblockhash","params":[5]}');
    expect(v2error.status).toBe(200);
    expect(v2error.body).toEqual({
      jsonrpc: "2.0",
      error: { code: -8, message: "Block height out of range" },
      id: expect.anything(),
    });
    const notification = await post(sim, "/", '{"jsonrpc":"2.0","method":"getblockcount"}');
    expect(notification.status).toBe(204);
    const parseError = await post(sim, "/", "{not json");
    expect(parseError.status).toBe(500);
    expect(parseError.body).toMatchObject({ error: { code: -32700 } });
  });

  it("accepts named parameters and reports wrong types as RPC_TYPE_ERROR", async () => {
    const sim = await start();
    await result(sim, "createwallet", ["w"]);
    const address = (await result(sim, "getnewaddress", '{"label":"named"}')) as string;
    const info = (await result(sim, "getaddressinfo", `{"address":"${address}"}`)) as { labels: string[] };
    expect(info.labels).toEqual(["named"]);
    const wrong = await call(sim, "getblockhash", ["0"]);
    expect(wrong.status).toBe(500);
    expect(wrong.body).toMatchObject({ error: { code: -3 } });
    const missing = await call(sim, "getblockhash", []);
    expect(missing.body).toMatchObject({ error: { code: -1 } });
  });

  it("selects wallets by URL path: -19 with two loaded and none chosen, -18 for an unknown one", async () => {
    const sim = await start();
    const none = await call(sim, "getbalance");
    expect(none.body).toMatchObject({ error: { code: -18 } });
    await result(sim, "createwallet", ["a"]);
    expect(String(await result(sim, "getbalance"))).toBe("0.00000000"); // one wallet: no path needed
    await result(sim, "createwallet", ["b"]);
    const ambiguous = await call(sim, "getnewaddress");
    expect(ambiguous.status).toBe(500);
    expect(ambiguous.body).toMatchObject({ error: { code: -19 } });
    const unknown = await call(sim, "getbalance", [], "/wallet/c");
    expect(unknown.body).toMatchObject({
      error: { code: -18, message: "Requested wallet does not exist or is not loaded" },
    });
    expect(await result(sim, "listwallets")).toEqual(["a", "b"]);
    await result(sim, "unloadwallet", [], "/wallet/a");
    expect(await result(sim, "listwallets")).toEqual(["b"]);
    expect(await result(sim, "loadwallet", ["a"])).toEqual({ name: "a" });
  });

  it("stops on the stop RPC", async () => {
    const sim = await start();
    expect(await result(sim, "stop")).toBe("Bitcoin Core stopping");
    await sim.stopped;
    await expect(fetch(`http://127.0.0.1:${sim.port}/`, { method: "POST" })).rejects.toThrow();
  });

  it("keeps simulators apart: each instance has its own chain", async () => {
    const [a, b] = await Promise.all([start(), start()]);
    await result(a, "createwallet", ["w"]);
    await result(a, "generatetoaddress", [3, await result(a, "getnewaddress")]);
    expect(await result(a, "getblockcount")).toBe(3);
    expect(await result(b, "getblockcount")).toBe(0);
  });
});
