/**
 * "Node behind" versus "reorg". A bitcoind killed with `kill -9` comes back at an older tip:
 * the blocks it had not flushed are gone, and its peers hand them back later. Its tip is
 * then lower than the last block we processed, and its wallet reports the transactions of
 * the lost blocks as unconfirmed — yet nothing was reorganised. Taking that for a reorg
 * un-credits credited deposits and credits them again minutes later.
 *
 * The node is behind when its tip is lower than our last processed block and every block we
 * recorded (the last processed one, and the blocks of the transactions still tracked) is
 * either on its active chain or unknown to it, at a height it does not have yet. A recorded
 * block the node knows off its active chain (`invalidateblock`, a fork it left), or a
 * recorded height where it has a different block, is a reorg.
 */
import type { Backend, ChainTip } from "../backends/backend.js";
import type { Ledger } from "../ledger/ledger.js";
import { listTrackedNetworkTransactions } from "../ledger/network-transactions.js";
import { getChainState } from "../ledger/queries.js";

/** Recorded blocks checked at most (the highest): enough to see a fork, bounded in RPC calls. */
const MAX_BLOCKS_CHECKED = 32;

export interface NodeBehind {
  /** The node's tip. */
  tip: ChainTip;
  /** The height of our last processed block: the node has caught up once it is there again. */
  waitingFor: number;
}

/**
 * Whether the node is behind our last processed block (see above); undefined when it is not
 * (level, ahead, or forked). Costs nothing beyond a database read unless the tip is lower.
 */
export async function findNodeBehind(
  ledger: Ledger,
  backend: Backend,
  knownTip?: ChainTip,
): Promise<NodeBehind | undefined> {
  const state = await ledger.run((trx, ctx) => getChainState(trx, ctx));
  if (state.lastBlockHash === null || state.lastBlockHeight === null) return undefined;
  const tip = knownTip ?? (await backend.getTip());
  if (tip.height >= state.lastBlockHeight) return undefined;

  const recorded = new Map<string, number>([[state.lastBlockHash, state.lastBlockHeight]]);
  const tracked = await ledger.run((trx, ctx) => listTrackedNetworkTransactions(trx, ctx));
  for (const ntx of tracked) {
    if (ntx.block_hash !== null && ntx.block_height !== null) recorded.set(ntx.block_hash, ntx.block_height);
  }
  const highestFirst = [...recorded].sort((a, b) => b[1] - a[1]).slice(0, MAX_BLOCKS_CHECKED);
  for (const [hash, height] of highestFirst) {
    const header = await backend.getBlockHeader(hash);
    if (header === undefined) {
      // Unknown: fine above its tip (not received yet); at a height it has, it has another block.
      if (height <= tip.height) return undefined;
    } else if (header.confirmations < 1) {
      return undefined; // known but off its active chain: it left that branch
    }
  }
  return { tip, waitingFor: state.lastBlockHeight };
}
