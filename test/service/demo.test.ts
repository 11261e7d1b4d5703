/** `cryptoassets demo --once`, the README's first command, as a real child process — two at once. */
import { describe, expect, it } from "vitest";
import { runCli } from "./support.js";

describe("cryptoassets demo --once", () => {
  it("exits 0 after printing the 16 confirmation states, and two demos do not collide", async () => {
    const demos = [runCli(["demo", "--once"]), runCli(["demo", "--once"])];
    const codes = await Promise.all(demos.map((demo) => demo.exited));
    for (const [index, demo] of demos.entries()) {
      const output = demo.output();
      expect(codes[index], output).toBe(0);
      const states = [...output.matchAll(/txupdate {2}confirmations +(\d+) {2}(credited|not credited)/g)].map(
        (match) => [Number(match[1]), match[2] === "credited"] as const,
      );
      expect(states).toEqual([...Array(16).keys()].map((n) => [n, n >= 3]));
      expect(output).toMatch(/dashboard +http:\/\/127\.0\.0\.1:\d+\//);
      expect(output).toMatch(
        /deposit final: 16 confirmation states delivered \(credited at 3\); account balance 0\.50000000 BTC/,
      );
      expect(output).not.toContain("cryptoassets:cryptoassets@");
    }
    const dashboards = demos.map((demo) => demo.output().match(/dashboard +(\S+)/)?.[1]);
    expect(new Set(dashboards).size).toBe(2);
  }, 90_000);
});
