/**
 * A CPU profile of one stretch of a benchmark (not its set-up), through the inspector in
 * this process (or in a child that writes the file: `startCpuProfile`, then
 * `summarizeProfileFile` in the parent). Writes the .cpuprofile (open it in Chrome DevTools
 * or speedscope) and prints where the self time went, by module and by function — when the
 * simulator and the benchmark's own driver run in the same process, their share is shown
 * separately.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a sampled frame belongs: our product, the simulator, a dependency, node, or V8. */
function area(url: string, name: string): string {
  if (!url) return name.startsWith("(") ? name : "(native)";
  const dependency = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency) return `dependency ${dependency[1]}`;
  if (url.includes("/src/simulator/")) return "simulator (test double)";
  if (url.includes("/bench/") || url.includes("/test/")) return "benchmark driver";
  const ours = url.match(/\/src\/(.+)\.js$/);
  if (ours) return `src/${ours[1]}`;
  if (url.startsWith("node:")) return `node ${url.slice(5).split("/").slice(0, 2).join("/")}`;
  return url;
}

export function summarizeProfileFile(file: string, top = 12): void {
  summarize(JSON.parse(readFileSync(file, "utf8")) as Profile, top);
}

function summarize(profile: Profile, top: number): void {
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const t = selfTime.get(node.id) ?? 0;
    if (t === 0) continue;
    total += t;
    const where = area(node.callFrame.url, node.callFrame.functionName);
    byArea.set(where, (byArea.get(where) ?? 0) + t);
    const fn = `${where}: ${node.callFrame.functionName || "(anonymous)"}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
  }
  const print = (title: string, map: Map<string, number>) => {
    console.log(`  ${title}`);
    for (const [key, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`    ${((t / total) * 100).toFixed(1).padStart(5)} %  ${key}`);
    }
  };
  console.log(`  cpu profile: ${(total / 1000).toFixed(0)} ms sampled`);
  print("self time by area", byArea);
  print("self time by function", byFunction);
}

/** Starts the profiler in this process; `stop` writes DIR/NAME.cpuprofile and returns its path. */
export async function startCpuProfile(dir: string, name: string): Promise<() => Promise<string>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = (await session.post("Profiler.stop")) as { profile: Profile };
    session.disconnect();
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
}

/** Runs `fn` under the CPU profiler when `dir` is given; otherwise just runs it. */
export async function withCpuProfile<T>(
  dir: string | undefined,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!dir) return fn();
  const stop = await startCpuProfile(dir, name);
  try {
    return await fn();
  } finally {
    const file = await stop();
    console.log(`  wrote ${file}`);
    summarizeProfileFile(file);
  }
}
