import { randomInt } from "node:crypto";
import { createServer } from "node:net";

/**
 * A free TCP port on 127.0.0.1 for a server that starts later (config files and child
 * processes need a real port, not 0). Chosen BELOW the kernel's ephemeral range
 * (32768–60999 on Linux): port-0 listeners and outgoing connections of tests running in
 * parallel take ephemeral ports, so a port handed out here cannot be grabbed by them between
 * now and the moment its server binds — which happened when a standby helper service took
 * over its notify ports seconds after they were picked.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(20_000, 32_000);
    if (await isBindable(port)) return port;
  }
  throw new Error("no free port found between 20000 and 32000 after 100 tries");
}

function isBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
