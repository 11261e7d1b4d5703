// Starts the CLI: dist/bundle/cli.js, bundled by `npm run build` (run by `npm ci` through
// `prepare`; scripts/bundle-cli.mjs says why).
// `command`: the subcommand an original cryptoassets.core console script name stands for.
import { setFlagsFromString } from "node:v8";

export function launch(command) {
  if (command !== undefined) process.argv.splice(2, 0, command);
  // The helper service runs for months mostly idle: V8's young generation, which grows to
  // 2 × 16 MiB while the modules load and never shrinks back, would be a third of its memory.
  // Kept at its initial 2 × 1 MiB instead (issue 14: idle 105 → 85 MiB, same CPU under load;
  // bench/README.md §4). Set here because V8 reads this flag each time the space would grow,
  // whereas --max-semi-space-size only counts on the command line.
  //
  // Its old generation, after a full collection with ~20 MiB live, may grow to about four
  // times that before the next one (V8 picks the factor from how cheap collections are, and
  // in a small, lightly loaded heap they are): at 20 deposits/s RSS climbed from 75 to 143
  // MiB in the 60 s before its first full collection. Growth is held to 1.5 times the live
  // heap instead: a full collection every ~7 s at that rate, 10–40 ms each. V8 reads this
  // flag each time it sets the next limit.
  if (process.argv[2] === "helper-service") {
    setFlagsFromString("--semi-space-growth-factor=1");
    setFlagsFromString("--heap-growing-percent=50");
  }
  import("../dist/bundle/cli.js").catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
