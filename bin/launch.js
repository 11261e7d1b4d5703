// Starts the CLI (built into dist/ by `npm run build`, run by `npm ci` through `prepare`).
// `command`: the subcommand an original cryptoassets.core console script name stands for.
export function launch(command) {
  if (command !== undefined) process.argv.splice(2, 0, command);
  import("../dist/cli/main.js").catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
