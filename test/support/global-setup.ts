/**
 * vitest global setup: rebuilds dist/ when any file of src/ is newer than its build output.
 * Suites that spawn the CLI (bin/ → dist/) would otherwise test a stale build when run alone.
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

/** The first source whose compiled file is missing or older, or undefined when dist/ is current. */
export function staleSource(root = ROOT): string | undefined {
  for (const source of sources(join(root, "src"))) {
    const built = join(root, "dist", relative(join(root, "src"), source)).replace(/\.ts$/, ".js");
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) return source;
  }
  return undefined;
}

export default function setup(): void {
  const stale = staleSource();
  if (stale === undefined) return;
  console.log(`dist/ is older than ${relative(ROOT, stale)}: building`);
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}
