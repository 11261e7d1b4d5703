/**
 * Every key the runtime's configuration types accept is a key the schema accepts: an option
 * the code honours but a YAML file cannot set (in-process `timeout`, `status-server.enabled`
 * were) fails `npm run typecheck` here. The other direction is checked where the service takes
 * a parsed configuration (the schema's output is assignable to HelperServiceConfig).
 *
 * EventHandlerConfig is the schema's input type; CoinConfig and HelperServiceConfig are
 * written by hand (docs/architecture.md §9 says why), so this is where they are held to it.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { backendSchema, coinSchema, configSchema, eventHandlerSchema } from "../../src/config/schema.js";
import type { EventHandlerConfig } from "../../src/events/handlers/factory.js";
import type { CoinBackendConfig, CoinConfig } from "../../src/service/coin-runtime.js";
import type { HelperServiceConfig } from "../../src/service/service-config.js";

type KeysOf<T> = T extends unknown ? keyof T : never;
/** Keys of `Runtime` (each member of a union by its `class`) that `Schema` does not have. */
type Missing<Runtime, Schema> = Runtime extends { class: infer C }
  ? Exclude<keyof Runtime, KeysOf<Extract<Schema, { class: C }>>>
  : Exclude<KeysOf<Runtime>, KeysOf<Schema>>;

type Input = z.input<typeof configSchema>;
type Service = NonNullable<HelperServiceConfig["service"]>;
type ServiceInput = NonNullable<Input["service"]>;

describe("runtime configuration types", () => {
  it("have no key the schema refuses", () => {
    expectTypeOf<Missing<CoinConfig, z.input<typeof coinSchema>>>().toEqualTypeOf<never>();
    expectTypeOf<Missing<CoinBackendConfig, z.input<typeof backendSchema>>>().toEqualTypeOf<never>();
    expectTypeOf<Missing<EventHandlerConfig, z.input<typeof eventHandlerSchema>>>().toEqualTypeOf<never>();
    expectTypeOf<
      Missing<NonNullable<HelperServiceConfig["status-server"]>, NonNullable<Input["status-server"]>>
    >().toEqualTypeOf<never>();
    expectTypeOf<Missing<Service, ServiceInput>>().toEqualTypeOf<never>();
    expectTypeOf<
      Missing<NonNullable<Service["dispatcher"]>, NonNullable<ServiceInput["dispatcher"]>>
    >().toEqualTypeOf<never>();
    expectTypeOf<Missing<HelperServiceConfig, Input>>().toEqualTypeOf<never>();
  });
});
