/**
 * BitcoindBackend against responses recorded from a real Bitcoin Core (replayed over real
 * HTTP on loopback): every Backend method's request shape and the exact parsing of its reply.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BitcoindBackend } from "../../src/backends/bitcoind/index.js";
import {
  BackendError,
  CryptoassetsError,
  InvalidAmountError,
  InvalidParameterError,
  RpcError,
  TransactionNotFoundError,
  UnexpectedResponseError,
} from "../../src/errors.js";
import { loadRecording, type Recording, type ReplayServer, startReplayServer } from "./replay-server.js";

const DEPOSIT_TXID = "03eea05d2f5ff3a9fd66fc85f73887d989216cd71010d89fa3c7161a2b867029";
const BATCHED_TXID = "b8951141a90a077589dd6162e52214439cdf4ca18cbb428a2741af8254d99d8f";
const SEND_TXID = "248910f8c7f4a71e5f834dcb5f9a37b8b09477a2c81de0799c633fe26f4234de";
const UNKNOWN_TXID = "89741a71cd611375e8e0e4e8f398ad79d57e690de39a293cd0b1bc7464c2025d";
const OUR_ADDRESS = "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm";
const OUR_SECOND_ADDRESS = "bcrt1q9kml2lst25vc8rz7u0xcg9j9pxnsgs3e5su6g0";
const PAYER_ADDRESS = "bcrt1qndamp9rzqwtdy8ywmlwlmwfwnatupju3acu94j";
const GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
const BLOCK_102 = "6ca52f046d334e3fc75828def78c6730bccc671ceb8448d9adecf4ce3049d3ab";
const BLOCK_103 = "4af0da45178f55ad2c76ce9b5139837459b3ae1fc619ebd8894fd38f524ae3d0";

let server: ReplayServer | undefined;
let backend: BitcoindBackend | undefined;

afterEach(async () => {
  await backend?.close();
  await server?.close();
  backend = undefined;
  server = undefined;
});

async function ours(recordings: Recording[], wallet = "ours"): Promise<BitcoindBackend> {
  server = await startReplayServer(recordings);
  backend = new BitcoindBackend({ url: `${server.base}/wallet/${wallet}`, coin: "btc" });
  return backend;
}

function sentBody(index = 0): unknown {
  const request = server?.requests[index];
  if (!request) throw new Error(`no request ${index}`);
  return JSON.parse(request.body);
}

describe("BitcoindBackend over recorded Bitcoin Core replies", () => {
  it("getNewAddress posts a JSON-RPC 1.0 getnewaddress to the wallet path", async () => {
    const b = await ours([loadRecording(4)]);
    expect(await b.getNewAddress()).toBe(OUR_ADDRESS);
    expect(server?.requests[0]?.path).toBe("/wallet/ours");
    expect(sentBody()).toMatchObject({ jsonrpc: "1.0", method: "getnewaddress", params: [] });
    expect(server?.requests[0]?.authorization).toBe(
      `Basic ${Buffer.from("rpcuser:s3cret-pw").toString("base64")}`,
    );
  });

  it("getTransaction of a mempool deposit: 1.50000000 is exactly 150000000n", async () => {
    const b = await ours([loadRecording(12)]);
    const tx = await b.getTransaction(DEPOSIT_TXID);
    expect(tx).toEqual({
      txid: DEPOSIT_TXID,
      confirmations: 0,
      amount: 150_000_000n,
      details: [
        {
          address: OUR_ADDRESS,
          category: "receive",
          amount: 150_000_000n,
          vout: 0,
          label: "",
          abandoned: false,
        },
      ],
      walletconflicts: [],
      time: 1795899841,
      timereceived: 1795899841,
    });
    expect(tx.blockhash).toBeUndefined();
    expect(tx.fee).toBeUndefined();
  });

  it("getTransaction once mined carries block hash and height", async () => {
    const b = await ours([loadRecording(17)]);
    const tx = await b.getTransaction(DEPOSIT_TXID);
    expect(tx.confirmations).toBe(1);
    expect(tx.blockhash).toBe(BLOCK_102);
    expect(tx.blockheight).toBe(102);
  });

  it("getTransaction of a sendmany paying two of our addresses has one detail per output", async () => {
    const b = await ours([loadRecording(18)]);
    const tx = await b.getTransaction(BATCHED_TXID);
    expect(tx.amount).toBe(37_500_000n);
    expect(tx.details.map((d) => [d.address, d.amount, d.vout])).toEqual([
      [OUR_ADDRESS, 25_000_000n, 1],
      [OUR_SECOND_ADDRESS, 12_500_000n, 2],
    ]);
  });

  it("getTransaction of our send: negative amount and negative fee, on the tx and its detail", async () => {
    const b = await ours([loadRecording(27)]);
    const tx = await b.getTransaction(SEND_TXID);
    expect(tx.amount).toBe(-50_000_000n);
    expect(tx.fee).toBe(-2_820n);
    expect(tx.details).toEqual([
      {
        address: PAYER_ADDRESS,
        category: "send",
        amount: -50_000_000n,
        vout: 0,
        fee: -2_820n,
        abandoned: false,
      },
    ]);
  });

  it("getTransaction of a txid not in the wallet throws TransactionNotFoundError (-5)", async () => {
    const b = await ours([loadRecording(37)]);
    const error = await b.getTransaction(UNKNOWN_TXID).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TransactionNotFoundError);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toBeInstanceOf(CryptoassetsError);
    expect((error as RpcError).rpcCode).toBe(-5);
    expect((error as RpcError).rpcMessage).toBe("Invalid or non-wallet transaction id");
    expect((error as Error).message).toContain("gettransaction");
  });

  it("getTransactions is one batched HTTP request; txids not in the wallet map to null", async () => {
    const b = await ours([loadRecording(12), loadRecording(37), loadRecording(18)]);
    const found = await b.getTransactions([DEPOSIT_TXID, UNKNOWN_TXID, BATCHED_TXID, DEPOSIT_TXID]);
    expect(server?.requests).toHaveLength(1);
    expect(server?.requests[0]?.batch).toBe(true);
    expect(server?.requests[0]?.methods).toEqual(["gettransaction", "gettransaction", "gettransaction"]);
    expect([...found.keys()]).toEqual([DEPOSIT_TXID, UNKNOWN_TXID, BATCHED_TXID]);
    expect(found.get(DEPOSIT_TXID)?.amount).toBe(150_000_000n);
    expect(found.get(UNKNOWN_TXID)).toBeNull();
    expect(found.get(BATCHED_TXID)?.details).toHaveLength(2);
    expect(b.rpcStats()).toEqual({ requests: 1, calls: { gettransaction: 3 } });
  });

  it("getTransactions of nothing makes no request", async () => {
    const b = await ours([]);
    expect((await b.getTransactions([])).size).toBe(0);
    expect(server?.requests).toHaveLength(0);
  });

  it("getTransactions rethrows an error other than not-found (-8 malformed txid)", async () => {
    const b = await ours([loadRecording(12), loadRecording(39)]);
    await expect(b.getTransactions([DEPOSIT_TXID, "nothex"])).rejects.toBeInstanceOf(InvalidParameterError);
  });

  it("listSinceBlock from genesis converts every entry exactly and asks for removed transactions", async () => {
    const b = await ours([loadRecording(22)]);
    const since = await b.listSinceBlock(GENESIS);
    expect(sentBody()).toMatchObject({ method: "listsinceblock", params: [GENESIS, 1, true, true] });
    expect(since.lastblock).toBe(BLOCK_102);
    expect(since.removed).toEqual([]);
    expect(since.transactions.map((e) => [e.txid, e.address, e.amount, e.vout, e.confirmations])).toEqual([
      [BATCHED_TXID, OUR_ADDRESS, 25_000_000n, 1, 1],
      [BATCHED_TXID, OUR_SECOND_ADDRESS, 12_500_000n, 2, 1],
      [DEPOSIT_TXID, OUR_ADDRESS, 150_000_000n, 0, 1],
    ]);
    expect(since.transactions[2]).toMatchObject({
      category: "receive",
      blockhash: BLOCK_102,
      blockheight: 102,
    });
  });

  it("listSinceBlock without a block sends an empty blockhash (all transactions)", async () => {
    const genesisReply = loadRecording(22);
    const b = await ours([{ ...genesisReply, name: "22 from empty hash", params: ["", 1, true, true] }]);
    const since = await b.listSinceBlock();
    expect(sentBody()).toMatchObject({ params: ["", 1, true, true] });
    expect(since.transactions).toHaveLength(3);
  });

  it("listSinceBlock after the reorg: our send is back in the mempool with fee, not in a block", async () => {
    const b = await ours([loadRecording(31)]);
    const since = await b.listSinceBlock(BLOCK_102);
    expect(since.transactions).toEqual([
      {
        txid: SEND_TXID,
        address: PAYER_ADDRESS,
        category: "send",
        amount: -50_000_000n,
        fee: -2_820n,
        vout: 0,
        confirmations: 0,
        abandoned: false,
        walletconflicts: [],
      },
    ]);
    expect(since.lastblock).toBe(BLOCK_102);
  });

  it("listSinceBlock from a block the reorg disconnected reports its transactions as removed", async () => {
    // Derived from recording 31: asked from the invalidated block 103, bitcoind lists the send
    // (now in the mempool) both as a current transaction and under `removed`.
    const recorded = loadRecording(31);
    const entries = /"transactions":(\[.*\]),"removed":\[\]/.exec(recorded.raw)?.[1];
    if (!entries) throw new Error("recording 31 changed shape");
    const derived: Recording = {
      ...recorded,
      name: "31 from block 103",
      params: [BLOCK_103, 1, true, true],
      raw: recorded.raw.replace('"removed":[]', `"removed":${entries}`),
    };
    const b = await ours([derived]);
    const since = await b.listSinceBlock(BLOCK_103);
    expect(since.removed).toHaveLength(1);
    expect(since.removed[0]).toMatchObject({
      txid: SEND_TXID,
      category: "send",
      amount: -50_000_000n,
      fee: -2_820n,
      confirmations: 0,
    });
    expect(since.transactions[0]?.txid).toBe(SEND_TXID);
  });

  it("listSinceBlock after reconsiderblock: the send is mined again in block 103", async () => {
    const b = await ours([loadRecording(36)]);
    const since = await b.listSinceBlock(BLOCK_102);
    expect(since.transactions[0]).toMatchObject({
      txid: SEND_TXID,
      confirmations: 1,
      blockhash: BLOCK_103,
      blockheight: 103,
    });
    expect(since.lastblock).toBe(BLOCK_103);
  });

  it("getTip is one getblockchaininfo call giving height, hash and chain of the same tip", async () => {
    const b = await ours([loadRecording(8)]);
    expect(await b.getTip()).toEqual({
      height: 101,
      hash: "709eb33ee08757f7676b5a94bcbdf74774e613ba07588b7b70b0ceb8404313d6",
      chain: "regtest",
    });
    expect(b.rpcStats()).toEqual({ requests: 1, calls: { getblockchaininfo: 1 } });
  });

  it("getBalances parses Core's getbalances exactly, with the block it reflects", async () => {
    const b = await ours([loadRecording(25)]);
    expect(await b.getBalances()).toEqual({
      trusted: 187_500_000n,
      untrustedPending: 0n,
      immature: 0n,
      lastProcessedBlock: {
        hash: "6ca52f046d334e3fc75828def78c6730bccc671ceb8448d9adecf4ce3049d3ab",
        height: 102,
      },
    });
  });

  it("getBalances keeps 20999999.99999999 exact (a float would round it)", async () => {
    const recorded = loadRecording(25);
    const b = await ours([{ ...recorded, raw: recorded.raw.replace("1.87500000", "20999999.99999999") }]);
    expect((await b.getBalances()).trusted).toBe(2_099_999_999_999_999n);
  });

  it("validateAddress reads isvalid", async () => {
    const invalid: Recording = {
      name: "validateaddress of garbage (shape of Bitcoin Core's reply)",
      path: "/",
      method: "validateaddress",
      params: ["notanaddress"],
      status: 200,
      raw: '{"result":{"isvalid":false,"error_locations":[],"error":"Invalid or unsupported Segwit (Bech32) or Base58 encoding."},"error":null,"id":"s"}\n',
    };
    const b = await ours([loadRecording(7), invalid]);
    expect(await b.validateAddress(OUR_ADDRESS)).toBe(true);
    expect(await b.validateAddress("notanaddress")).toBe(false);
  });

  it("sendMany writes amounts as exact 8-decimal JSON numbers and returns the txid", async () => {
    const b = await ours([loadRecording(15)], "payer");
    const txid = await b.sendMany(
      new Map([
        [OUR_ADDRESS, 25_000_000n],
        [OUR_SECOND_ADDRESS, 12_500_000n],
      ]),
    );
    expect(txid).toBe("b8951141a90a077589dd6162e52214439cdf4ca18cbb428a2741af8254d99d8f");
    const body = server?.requests[0]?.body ?? "";
    expect(server?.requests[0]?.path).toBe("/wallet/payer");
    expect(body).toContain(`"params":["",{"${OUR_ADDRESS}":0.25000000,"${OUR_SECOND_ADDRESS}":0.12500000}]`);
  });

  it("sendMany refuses empty and non-positive outputs before calling the daemon", async () => {
    const b = await ours([]);
    await expect(b.sendMany(new Map())).rejects.toBeInstanceOf(InvalidAmountError);
    await expect(b.sendMany(new Map([[OUR_ADDRESS, 0n]]))).rejects.toThrow(/must be positive/);
    expect(server?.requests).toHaveLength(0);
  });

  it("a reply missing a promised field is an UnexpectedResponseError naming it", async () => {
    const recorded = loadRecording(12);
    const b = await ours([{ ...recorded, raw: recorded.raw.replace('"confirmations":0,', "") }]);
    await expect(b.getTransaction(DEPOSIT_TXID)).rejects.toThrow(UnexpectedResponseError);
    await expect(b.getTransaction(DEPOSIT_TXID)).rejects.toThrow(/gettransaction\.confirmations/);
  });

  it("counts calls per method across a chain-following round", async () => {
    const b = await ours([loadRecording(8), loadRecording(22), loadRecording(17), loadRecording(18)]);
    await b.getTip();
    await b.listSinceBlock(GENESIS);
    await b.getTransactions([DEPOSIT_TXID, BATCHED_TXID]);
    expect(b.rpcStats()).toEqual({
      requests: 3,
      calls: { getblockchaininfo: 1, listsinceblock: 1, gettransaction: 2 },
    });
    b.resetRpcStats();
    expect(b.rpcStats()).toEqual({ requests: 0, calls: {} });
  });

  it("the coin decides the precision and the name", async () => {
    server = await startReplayServer([loadRecording(25)]);
    backend = new BitcoindBackend({ url: server.base, wallet: "ours", coin: "LTC" });
    expect(backend.coin).toBe("ltc");
    expect(backend.url).toBe(`http://rpcuser:***@127.0.0.1:${server.port}/wallet/ours`);
    expect((await backend.getBalances()).trusted).toBe(187_500_000n);
  });
});
