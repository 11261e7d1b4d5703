/**
 * A commit's tree built beside this one, to measure a baseline in the same run: checked out
 * with `git worktree` into a temp folder (node_modules shared) and built there with its own
 * `npm run build` (its dist/ and bin/ work as a release's would).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** This repository's root (dist-bench/bench/ → ../..). */
export const ROOT = join(import.meta.dirname, "../..");

export interface Checkout {
  /** The tree's folder (dist/ built). */
  dir: string;
  /** Short commit hash. */
  commit: string;
  remove(): void;
}

export function buildCheckout(ref: string): Checkout {
  const dir = mkdtempSync(join(tmpdir(), "ca-bench-baseline-"));
  const git = (...args: string[]) => execFileSync("git", ["-C", ROOT, ...args], { stdio: "pipe" });
  const commit = git("rev-parse", "--short", ref).toString().trim();
  git("worktree", "add", "--detach", dir, ref);
  const remove = () => {
    git("worktree", "remove", "--force", dir);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    symlinkSync(realpathSync(join(ROOT, "node_modules")), join(dir, "node_modules"));
    // The commit's own build: tsc, and from the CLI bundle's introduction on, the bundle too.
    execFileSync("npm", ["run", "build"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  } catch (error) {
    remove();
    throw error;
  }
  return { dir, commit, remove };
}
