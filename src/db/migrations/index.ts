/**
 * Versioned migrations, listed statically so they work from dist/ and from tests alike.
 * Append new ones; never edit one that has shipped.
 */
import type { Migration } from "kysely";
import type { Engine } from "../url.js";
import { initialMigration } from "./0001_initial.js";
import { eventFeedMigration } from "./0002_event_feed.js";
import { backendStatusMigration } from "./0003_backend_status.js";
import { sendFailuresMigration } from "./0004_send_failures.js";
import { broadcastIdentityMigration } from "./0005_broadcast_identity.js";
import { outboxIndexesMigration } from "./0006_outbox_indexes.js";
import { hotUpdatesMigration } from "./0007_hot_updates.js";

export function migrations(engine: Engine): Record<string, Migration> {
  return {
    "0001_initial": initialMigration(engine),
    "0002_event_feed": eventFeedMigration(),
    "0003_backend_status": backendStatusMigration(),
    "0004_send_failures": sendFailuresMigration(),
    "0005_broadcast_identity": broadcastIdentityMigration(),
    "0006_outbox_indexes": outboxIndexesMigration(engine),
    "0007_hot_updates": hotUpdatesMigration(engine),
  };
}
