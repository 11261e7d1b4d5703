#!/usr/bin/env node
// @ts-check
/**
 * A small command-line wallet on top of cryptoassets-core, like the original
 * cryptoassets.core example app: one account, a receiving address, balance, send, and a
 * `listen` mode that runs the helper service in-process and prints every txupdate.
 *
 *   node examples/cli-wallet/wallet.mjs <config.yaml> address|balance|send <address> <amount>|listen
 */
import {
  BitcoindBackend,
  FunctionEventHandler,
  formatAmount,
  initializeDatabase,
  Ledger,
  loadConfigFile,
  openDatabase,
  startHelperService,
} from "cryptoassets-core";

const [configPath, command, ...args] = process.argv.slice(2);
if (!configPath || !command) {
  console.error("usage: wallet.mjs <config.yaml> address | balance | send <address> <amount> | listen");
  process.exit(64);
}
const config = loadConfigFile(configPath);
const coin = config.coins.btc;
if (!coin || coin.backend.class !== "bitcoind") throw new Error("this example expects a bitcoind btc coin");

if (command === "listen") {
  const service = await startHelperService(config, {
    handlers: [
      new FunctionEventHandler("example-wallet", (name, data) => {
        const state = data.credited ? "credited" : "not credited yet";
        console.log(
          `${name}: ${data.amount} BTC to ${data.address}, ${data.confirmations} confirmations, ${state}`,
        );
      }),
    ],
  });
  console.log(`listening; dashboard at ${service.statusUrl ?? "(disabled)"}; Ctrl-C to stop`);
  process.on("SIGINT", () => void service.stop());
  const exit = await service.done;
  process.exit(exit.code);
}

const database = await openDatabase(config.database.url);
await initializeDatabase(database);
const backend = new BitcoindBackend({ url: coin.backend.url, wallet: coin.backend.wallet, coin: "btc" });
const ledger = await Ledger.open({ database, coin: "btc", network: coin.network, backend });
const me = await ledger.account("example-user");
try {
  switch (command) {
    case "address": {
      const { address } = await ledger.createReceivingAddress(me.id, { label: "example" });
      console.log(address);
      break;
    }
    case "balance": {
      const { confirmed, unconfirmed } = await ledger.accountBalance(me.id);
      console.log(`${formatAmount(confirmed, 8)} BTC (unconfirmed ${formatAmount(unconfirmed, 8)})`);
      break;
    }
    case "send": {
      const [to, amount] = args;
      if (!to || !amount) throw new Error("send needs <address> <amount>");
      const id = await ledger.send(me.id, to, amount);
      console.log(`send #${id} recorded; the helper service broadcasts it`);
      break;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
} finally {
  await backend.close();
  await database.close();
}
