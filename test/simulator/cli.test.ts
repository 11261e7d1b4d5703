/** The `simulate-bitcoind` subcommand, driven through commander as main.ts will wire it. */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerSimulateBitcoindCommand } from "../../src/cli/simulate-bitcoind.js";
import type { Simulator } from "../../src/simulator/index.js";
import { result } from "./rpc-client.js";

describe("cryptoassets simulate-bitcoind", () => {
  it("serves RPC with the given credentials and exits when the stop RPC arrives", async () => {
    const program = new Command("cryptoassets").exitOverride();
    let started: Simulator | undefined;
    registerSimulateBitcoindCommand(program, {
      onStarted: (sim) => {
        started = sim;
      },
    });
    const lines: string[] = [];
    const originalLog = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(" "));
    let running: Promise<unknown>;
    try {
      running = program.parseAsync(
        ["simulate-bitcoind", "--port", "0", "--rpcuser", "bob", "--rpcpassword", "hunter2"],
        { from: "user" },
      );
      while (!started) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      console.log = originalLog;
    }
    const sim = started as Simulator;
    expect(sim.rpcUser).toBe("bob");
    expect(lines.join("\n")).toContain(`http://bob:***@127.0.0.1:${sim.port}/`);
    expect(lines.join("\n")).not.toContain("hunter2");
    expect(await result(sim, "getblockcount")).toBe(0);
    expect(await result(sim, "stop")).toBe("Bitcoin Core stopping");
    await running;
    await expect(fetch(`http://127.0.0.1:${sim.port}/`, { method: "POST" })).rejects.toThrow();
  });

  it("rejects a port that is not a number", async () => {
    const program = new Command("cryptoassets").exitOverride().configureOutput({ writeErr: () => {} });
    registerSimulateBitcoindCommand(program);
    await expect(
      program.parseAsync(["simulate-bitcoind", "--port", "http"], { from: "user" }),
    ).rejects.toThrow(/port must be an integer/);
  });
});
