import type { AddressInfo } from "node:net";
import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (for config files and child processes, whose ports must be 1–65535). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
