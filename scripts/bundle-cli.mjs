#!/usr/bin/env node
// Bundles the command line (dist/cli/main.js, as tsc emitted it) into dist/bundle/: cli.js,
// which bin/ runs, and the chunks it imports. Part of `npm run build` (and so of `npm ci`).
//
// Why (issue 14, target 5): Node 20 has no module compile cache, and resolving, reading and
// linking the ~1,400 files of the unbundled CLI (984 of them kysely's ESM build) took most of
// the helper service's 1.1–1.6 s of CPU to start; a few large files take a third of that
// (bench/README.md §4). Code splitting keeps every `await import()` a chunk of its own, so
// what the configuration does not use (pg, mysql2, redis, amqplib, NATS, the simulator, the
// other subcommands) is still not loaded. dist/bundle/inputs.json lists the packages inside
// each file, for test/service/lazy-modules.test.ts.
//
// Left outside: the drivers and broker clients (see `external`), native modules and optional
// ones that are not installed (better-sqlite3, pg-native), and pino with pino-pretty, whose transports start a worker thread from files
// found next to pino's own (__dirname). bitcoinjs-lib stays outside too: src/coins/registry.ts
// loads it with createRequire, which resolves from node_modules as before.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "dist/bundle");
const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

/** dist/version.js reads ../package.json next to itself; from dist/bundle/ that is not there. */
const versionInlined = {
  name: "version-inlined",
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]dist[\\/]version\.js$/ }, () => ({
      contents: `export const VERSION = ${JSON.stringify(version)};`,
      loader: "js",
    }));
  },
};

rmSync(OUT, { recursive: true, force: true }); // chunk names change with their content
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { cli: "dist/cli/main.js" },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Drivers and broker clients stay Node's to load, as before bundling: they are imported
  // only when the configuration uses them (so they cost no start-up), and a CommonJS
  // package's named exports seen through an esbuild chunk are not always what Node gives
  // (`(await import("redis")).createClient` was undefined in the bundle).
  external: [
    "better-sqlite3",
    "pg-native",
    "pino",
    "pino-pretty",
    "pg",
    "mysql2",
    "redis",
    "amqplib",
    "@nats-io/transport-node",
    "@nats-io/jetstream",
  ],
  // CommonJS packages inside an ES module bundle call require() (node: built-ins, optional
  // packages); an ES module has none of its own.
  banner: {
    js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);',
  },
  plugins: [versionInlined],
  metafile: true,
  logLevel: "warning",
});

/** Output file (relative to dist/bundle/) → the npm packages whose code it holds. */
const inputs = {};
for (const [output, info] of Object.entries(result.metafile.outputs)) {
  const packages = new Set();
  for (const input of Object.keys(info.inputs)) {
    const names = [...input.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)];
    const last = names.at(-1)?.[1];
    if (last !== undefined) packages.add(last);
  }
  inputs[output.slice("dist/bundle/".length)] = [...packages].sort();
}
writeFileSync(join(OUT, "inputs.json"), `${JSON.stringify(inputs, null, 1)}\n`);
