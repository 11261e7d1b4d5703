/**
 * The local daemon processes (bitcoind) and the users they run as, read from /proc (Linux).
 * The notify pipe uses this to tell, at start, when bitcoind's user could not write to it.
 * Elsewhere, or when the daemon runs on another machine or in a container, the list is empty.
 */
import { readdir, readFile } from "node:fs/promises";

export interface DaemonProcess {
  pid: number;
  uid: number;
  /** Primary and supplementary groups. */
  gids: number[];
}

function idsOf(status: string, field: string): number[] {
  const line = status.split("\n").find((l) => l.startsWith(`${field}:`));
  return (
    line
      ?.slice(field.length + 1)
      .trim()
      .split(/\s+/) ?? []
  )
    .filter((v) => v !== "")
    .map(Number);
}

/** Processes whose command name is `name`; an unreadable /proc gives none. */
export async function findDaemonProcesses(name = "bitcoind"): Promise<DaemonProcess[]> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const found: DaemonProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    // A process may end between readdir and this read: skip it.
    const status = await readFile(`/proc/${entry}/status`, "utf8").catch(() => "");
    if (!status.startsWith(`Name:\t${name}\n`)) continue;
    const [uid] = idsOf(status, "Uid");
    const [gid] = idsOf(status, "Gid");
    if (uid === undefined || gid === undefined) continue;
    found.push({ pid: Number(entry), uid, gids: [gid, ...idsOf(status, "Groups")] });
  }
  return found;
}

/** Whether a process may open a file of this owner and mode for writing (root always may). */
export function mayWrite(proc: DaemonProcess, owner: { uid: number; gid: number }, mode: number): boolean {
  if (proc.uid === 0) return true;
  if (proc.uid === owner.uid) return (mode & 0o200) !== 0;
  if (proc.gids.includes(owner.gid)) return (mode & 0o020) !== 0;
  return (mode & 0o002) !== 0;
}
