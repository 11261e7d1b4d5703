import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { staleSource } from "./global-setup.js";

const root = mkdtempSync(join(tmpdir(), "global-setup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("finds the source whose build output or the CLI bundle is missing or older, and nothing once dist/ is current", () => {
  mkdirSync(join(root, "src/cli"), { recursive: true });
  mkdirSync(join(root, "dist/cli"), { recursive: true });
  mkdirSync(join(root, "dist/bundle"), { recursive: true });
  writeFileSync(join(root, "src/cli/main.ts"), "export {};\n");
  expect(staleSource(root)).toBe(join(root, "src/cli/main.ts"));

  writeFileSync(join(root, "dist/cli/main.js"), "export {};\n");
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(root, "src/cli/main.ts"), past, past);
  expect(staleSource(root)).toBe(join(root, "src/cli/main.ts")); // no bundle yet

  writeFileSync(join(root, "dist/bundle/cli.js"), "export {};\n");
  expect(staleSource(root)).toBeUndefined();

  const earlier = new Date(Date.now() - 120_000);
  utimesSync(join(root, "dist/bundle/cli.js"), earlier, earlier); // bundled before the last edit
  expect(staleSource(root)).toBe(join(root, "src/cli/main.ts"));
  utimesSync(join(root, "dist/bundle/cli.js"), new Date(), new Date());

  writeFileSync(join(root, "src/cli/main.ts"), "export const edited = 1;\n");
  expect(staleSource(root)).toBe(join(root, "src/cli/main.ts"));
});
