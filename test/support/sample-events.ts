import type { TxUpdateData } from "../../src/events/types.js";

/** A txupdate payload for outbox tests and benches: deposit `transaction` at `confirmations`. */
export function sampleTxUpdate(transaction: number, confirmations = 0): TxUpdateData {
  return {
    coin_name: "btc",
    transaction,
    network_transaction: transaction,
    transaction_type: "deposit",
    txid: transaction.toString(16).padStart(64, "0"),
    account: 1,
    address: "bcrt1qzg7qqeanfzm40dz06d5zh2wl24gva8dtj34jdm",
    amount: "0.50000000",
    credited: confirmations >= 3,
    confirmations,
  };
}
