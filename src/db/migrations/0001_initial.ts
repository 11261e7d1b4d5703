/** The initial schema: ledger, chain state and the event outbox (see ../schema.ts). */
import type { CreateTableBuilder, Kysely, Migration } from "kysely";
import type { Engine } from "../url.js";

export function initialMigration(engine: Engine): Migration {
  // PostgreSQL has no AUTO_INCREMENT: serial is its auto-numbered integer.
  const idType = engine === "postgres" ? ("serial" as const) : ("integer" as const);
  const id = <T extends string>(table: CreateTableBuilder<T, never>) =>
    table.addColumn("id", idType, (c) =>
      engine === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    );
  return {
    async up(db: Kysely<unknown>) {
      await id(db.schema.createTable("ca_wallet"))
        .addColumn("coin", "varchar(16)", (c) => c.notNull())
        .addColumn("name", "varchar(128)", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("ca_wallet_coin_name", ["coin", "name"])
        .execute();

      await id(db.schema.createTable("ca_account"))
        .addColumn("wallet_id", "integer", (c) => c.notNull().references("ca_wallet.id"))
        .addColumn("name", "varchar(255)", (c) => c.notNull())
        .addColumn("kind", "varchar(16)", (c) => c.notNull())
        .addColumn("balance", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("ca_account_wallet_name", ["wallet_id", "name"])
        .execute();

      await id(db.schema.createTable("ca_address"))
        .addColumn("wallet_id", "integer", (c) => c.notNull().references("ca_wallet.id"))
        .addColumn("account_id", "integer", (c) => c.references("ca_account.id"))
        .addColumn("address", "varchar(128)", (c) => c.notNull())
        .addColumn("label", "varchar(255)")
        .addColumn("balance", "bigint", (c) => c.notNull())
        .addColumn("archived_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("ca_address_wallet_address", ["wallet_id", "address"])
        .execute();

      await id(db.schema.createTable("ca_network_transaction"))
        .addColumn("wallet_id", "integer", (c) => c.notNull().references("ca_wallet.id"))
        .addColumn("txid", "varchar(64)")
        .addColumn("transaction_type", "varchar(16)", (c) => c.notNull())
        .addColumn("confirmations", "integer", (c) => c.notNull())
        .addColumn("block_hash", "varchar(64)")
        .addColumn("block_height", "integer")
        .addColumn("conflicted_at_height", "integer")
        .addColumn("tracked", "integer", (c) => c.notNull())
        .addColumn("fee", "bigint")
        .addColumn("opened_at", "bigint")
        .addColumn("closed_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("ca_ntx_wallet_txid_type", ["wallet_id", "txid", "transaction_type"])
        .execute();
      await db.schema
        .createIndex("ca_ntx_tracked")
        .on("ca_network_transaction")
        .columns(["wallet_id", "tracked"])
        .execute();

      await id(db.schema.createTable("ca_transaction"))
        .addColumn("wallet_id", "integer", (c) => c.notNull().references("ca_wallet.id"))
        .addColumn("type", "varchar(16)", (c) => c.notNull())
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("amount", "bigint", (c) => c.notNull())
        .addColumn("sending_account_id", "integer", (c) => c.references("ca_account.id"))
        .addColumn("receiving_account_id", "integer", (c) => c.references("ca_account.id"))
        .addColumn("address_id", "integer", (c) => c.references("ca_address.id"))
        .addColumn("network_transaction_id", "integer", (c) => c.references("ca_network_transaction.id"))
        .addColumn("label", "varchar(255)")
        .addColumn("credited_at", "bigint")
        .addColumn("processed_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("ca_tx_wallet_type_state")
        .on("ca_transaction")
        .columns(["wallet_id", "type", "state"])
        .execute();
      await db.schema
        .createIndex("ca_tx_ntx")
        .on("ca_transaction")
        .columns(["network_transaction_id"])
        .execute();

      await db.schema
        .createTable("ca_chain_state")
        .addColumn("wallet_id", "integer", (c) => c.primaryKey().references("ca_wallet.id"))
        .addColumn("last_block_hash", "varchar(64)")
        .addColumn("last_block_height", "integer")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await id(db.schema.createTable("ca_event"))
        .addColumn("event_id", "varchar(36)", (c) => c.notNull().unique())
        .addColumn("event_name", "varchar(64)", (c) => c.notNull())
        .addColumn("ordering_key", "varchar(128)", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();

      await id(db.schema.createTable("ca_delivery"))
        .addColumn("event_row_id", "integer", (c) =>
          c.notNull().references("ca_event.id").onDelete("cascade"),
        )
        .addColumn("handler", "varchar(128)", (c) => c.notNull())
        .addColumn("ordering_key", "varchar(128)", (c) => c.notNull())
        .addColumn("state", "varchar(16)", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("claimed_by", "varchar(64)")
        .addColumn("claimed_until", "bigint")
        .addColumn("last_error", "text")
        .addColumn("last_status", "integer")
        .addColumn("delivered_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      // The claim scans due pending rows of one handler, then probes the head of each key.
      await db.schema
        .createIndex("ca_delivery_due")
        .on("ca_delivery")
        .columns(["handler", "state", "next_attempt_at"])
        .execute();
      await db.schema
        .createIndex("ca_delivery_key")
        .on("ca_delivery")
        .columns(["handler", "ordering_key", "id"])
        .execute();

      await id(db.schema.createTable("ca_delivery_attempt"))
        .addColumn("delivery_id", "integer", (c) =>
          c.notNull().references("ca_delivery.id").onDelete("cascade"),
        )
        .addColumn("attempted_at", "bigint", (c) => c.notNull())
        .addColumn("outcome", "varchar(16)", (c) => c.notNull())
        .addColumn("http_status", "integer")
        .addColumn("exit_code", "integer")
        .addColumn("error", "text")
        .addColumn("duration_ms", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("ca_attempt_delivery")
        .on("ca_delivery_attempt")
        .columns(["delivery_id"])
        .execute();
    },
  };
}
