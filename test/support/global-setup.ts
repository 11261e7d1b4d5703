/**
 * vitest global setup: rebuilds dist/ (`npm run build`: tsc, then the CLI's bundle) when any
 * file of src/ is newer than its build output or than the bundle. Suites that spawn the CLI
 * (bin/ → dist/bundle/) would otherwise test a stale build when run alone.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The first source whose compiled file or the bundle is missing or older, or undefined when dist/ is current. */
export function staleSource(root = ROOT): string | undefined {
  const bundle = join(root, "dist/bundle/cli.js");
  const bundledAt = existsSync(bundle) ? statSync(bundle).mtimeMs : -1;
  for (const source of sources(join(root, "src"))) {
    const built = join(root, "dist", relative(join(root, "src"), source)).replace(/\.ts$/, ".js");
    const changedAt = statSync(source).mtimeMs;
    if (!existsSync(built) || statSync(built).mtimeMs < changedAt || bundledAt < changedAt) return source;
  }
  return undefined;
}

export default function setup(): void {
  const stale = staleSource();
  if (stale === undefined) return;
  console.log(`dist/ is older than ${relative(ROOT, stale)}: building`);
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  execFileSync(process.execPath, [join(ROOT, "scripts/bundle-cli.mjs")], { cwd: ROOT, stdio: "inherit" });
}
