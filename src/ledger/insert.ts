/** INSERT returning the new id on every engine (MySQL has no RETURNING). */
import type { Insertable } from "kysely";
import type { Schema } from "../db/schema.js";
import type { Trx } from "../db/serializable.js";
import type { Engine } from "../db/url.js";

type TableWithId = { [K in keyof Schema]: "id" extends keyof Schema[K] ? K : never }[keyof Schema];

export async function insertReturningId<T extends TableWithId>(
  trx: Trx,
  engine: Engine,
  table: T,
  values: Insertable<Schema[T]>,
): Promise<number> {
  // biome-ignore lint/suspicious/noExplicitAny: Kysely cannot narrow a generic table's insert type.
  const query = trx.insertInto(table).values(values as any);
  if (engine === "mysql") return Number((await query.executeTakeFirstOrThrow()).insertId);
  // biome-ignore lint/suspicious/noExplicitAny: every TableWithId has an id column.
  const row = (await query.returning("id" as any).executeTakeFirstOrThrow()) as { id: number };
  return Number(row.id);
}
