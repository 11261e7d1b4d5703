import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeliveryFailedError, ScriptNotificationFailed } from "../../src/errors.js";
import { ScriptEventHandler } from "../../src/events/handlers/script.js";
import { captureLogger, sampleEvent } from "./helpers.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ca-script-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Whether a process is gone: no such pid, or a zombie nobody has reaped yet (e.g. PID 1 in a container). */
async function processIsGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat === "" || /\) Z /.test(stat);
}

describe("ScriptEventHandler", () => {
  it("passes the event in CRYPTOASSETS_EVENT_* variables, and service variables only through pass_env", async () => {
    const out = join(dir, "env.txt");
    process.env.CA_TEST_INHERITED = "inherited-value";
    try {
      const script = `printf '%s\\n' "$CRYPTOASSETS_EVENT_NAME" "$CRYPTOASSETS_EVENT_ID" "$CRYPTOASSETS_EVENT_DATA" "$CA_TEST_INHERITED" > '${out}'`;
      await new ScriptEventHandler("script", { script }).deliver(sampleEvent());
      expect((await readFile(out, "utf8")).split("\n")[3]).toBe("");
      const handler = new ScriptEventHandler("script", { script, pass_env: ["CA_TEST_INHERITED"] });
      const event = sampleEvent();
      const result = await handler.deliver(event);
      expect(result.durationMs).toBeGreaterThan(0);
      const [name, id, data, inherited] = (await readFile(out, "utf8")).split("\n");
      expect(name).toBe("txupdate");
      expect(id).toBe(event.event_id);
      expect(JSON.parse(data ?? "")).toEqual(event.data);
      expect(JSON.parse(data ?? "").amount).toBe("0.50000000");
      expect(inherited).toBe("inherited-value");
    } finally {
      delete process.env.CA_TEST_INHERITED;
    }
  });

  it("fails with ScriptNotificationFailed carrying the exit code and the tail of stderr", async () => {
    const handler = new ScriptEventHandler("script", {
      script: "echo 'some noise' >&2; echo 'ledger API unreachable' >&2; exit 3",
    });
    const error = await handler.deliver(sampleEvent()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScriptNotificationFailed);
    expect(error).toBeInstanceOf(DeliveryFailedError);
    const failed = error as ScriptNotificationFailed;
    expect(failed.exitCode).toBe(3);
    expect(failed.code).toBe("EXIT_CODE");
    expect(failed.stderr).toBe("some noise\nledger API unreachable");
    // The message is stored and shown on the dashboard: stderr goes only to the log.
    expect(failed.message).toBe("script exited with code 3");
  });

  it("logs stdout and stderr lines at info level only with log_output", async () => {
    const script = "echo first; echo second; echo oops >&2; printf 'no newline'";
    const quiet = captureLogger();
    await new ScriptEventHandler("script", { script, logger: quiet.logger }).deliver(sampleEvent());
    expect(quiet.lines.filter((line) => line.level === 30)).toEqual([]);

    const loud = captureLogger();
    await new ScriptEventHandler("script", { script, log_output: true, logger: loud.logger }).deliver(
      sampleEvent(),
    );
    const info = loud.lines.filter((line) => line.level === 30);
    expect(info.map((line) => [line.stream, line.msg])).toEqual(
      expect.arrayContaining([
        ["stdout", "first"],
        ["stdout", "second"],
        ["stderr", "oops"],
        ["stdout", "no newline"],
      ]),
    );
    expect(info).toHaveLength(4);
    expect(info[0]).toMatchObject({ handler: "script", event_id: sampleEvent().event_id });
  });

  it("on timeout kills the whole process group, children included", async () => {
    const pidFile = join(dir, "child.pid");
    const handler = new ScriptEventHandler("script", {
      script: `sleep 30 & echo $! > '${pidFile}'; sleep 30`,
      timeout: 0.5,
    });
    const started = Date.now();
    const error = await handler.deliver(sampleEvent()).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(ScriptNotificationFailed);
    expect((error as ScriptNotificationFailed).code).toBe("ETIMEDOUT");
    expect((error as ScriptNotificationFailed).message).toMatch(/timed out after 0\.5 s and was killed/);

    const childPid = Number((await readFile(pidFile, "utf8")).trim());
    expect(childPid).toBeGreaterThan(0);
    let childGone = false;
    for (let i = 0; i < 100 && !childGone; i++) {
      childGone = await processIsGone(childPid);
      if (!childGone) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(childGone).toBe(true);
  });

  it("does not wait for a background process that keeps the output pipes open", async () => {
    const pidFile = join(dir, "daemon.pid");
    const handler = new ScriptEventHandler("script", { script: `sleep 5 & echo $! > '${pidFile}'; exit 0` });
    const started = Date.now();
    try {
      const result = await handler.deliver(sampleEvent());
      expect(result.durationMs).toBeLessThan(3000);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      process.kill(Number((await readFile(pidFile, "utf8")).trim()), "SIGKILL");
    }
  });

  it("close() kills scripts still running", async () => {
    const handler = new ScriptEventHandler("script", { script: "sleep 30" });
    const delivery = handler.deliver(sampleEvent()).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await handler.close();
    const error = await delivery;
    expect(error).toBeInstanceOf(ScriptNotificationFailed);
    expect((error as ScriptNotificationFailed).message).toBe("script was killed by SIGKILL");
  });

  it("rejects an empty script", () => {
    expect(() => new ScriptEventHandler("script", { script: "  " })).toThrow(
      /events\.script\.script is empty/,
    );
  });
});
