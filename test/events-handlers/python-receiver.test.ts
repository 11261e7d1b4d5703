/**
 * Wire compatibility with receivers written for the original cryptoassets.core: a real
 * Python http.server parses our POST with urllib.parse.parse_qs and json.loads, exactly as
 * such a receiver does, and checks the Standard Webhooks signature with hmac/base64.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { HttpEventHandler } from "../../src/events/handlers/http.js";
import { sampleEvent } from "./helpers.js";

const SECRET_BYTES = Buffer.from("a 24-byte key for tests!", "utf8");
const SECRET = `whsec_${SECRET_BYTES.toString("base64")}`;

const RECEIVER = `
import base64, hmac, hashlib, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

KEY = base64.b64decode(sys.argv[1])

class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        content_type = self.headers["Content-Type"]
        if content_type == "application/x-www-form-urlencoded":
            params = parse_qs(body.decode("utf-8"))
            event_name = params["event_name"][0]
            data = json.loads(params["data"][0])
            event_id = params["event_id"][0]
        else:
            parsed = json.loads(body)
            event_name, data, event_id = parsed["event_name"], parsed["data"], parsed["event_id"]
        signed = b".".join([self.headers["webhook-id"].encode(), self.headers["webhook-timestamp"].encode(), body])
        expected = "v1," + base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
        print(json.dumps({
            "content_type": content_type,
            "event_name": event_name,
            "event_id": event_id,
            "amount": data["amount"],
            "amount_type": type(data["amount"]).__name__,
            "transaction": data["transaction"],
            "credited": data["credited"],
            "confirmations": data["confirmations"],
            "address": data["address"],
            "signature_ok": hmac.compare_digest(expected, self.headers["webhook-signature"]),
        }), flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

# Threaded: each of our handlers keeps its own connection alive.
server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
`;

let python: ChildProcessWithoutNullStreams | undefined;
afterEach(async () => {
  if (python && python.exitCode === null) {
    python.kill("SIGTERM");
    await once(python, "exit");
  }
  python = undefined;
});

describe("a Python receiver written for the original", () => {
  it("reads event_name and data from form and JSON bodies; the decimal amount survives as a string", async () => {
    python = spawn("python3", ["-c", RECEIVER, SECRET_BYTES.toString("base64")]);
    const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);
    expect(port).toBeGreaterThan(0);

    const url = `http://127.0.0.1:${port}/`;
    const form = new HttpEventHandler("python-form", { url, secret: SECRET });
    const json = new HttpEventHandler("python-json", { url, secret: SECRET, format: "json" });
    try {
      const event = sampleEvent({ amount: "21000000.00000001", confirmations: -1 });
      await expect(form.deliver(event)).resolves.toMatchObject({ httpStatus: 200 });
      const fromForm = JSON.parse(String((await lines.next()).value));
      await expect(json.deliver(event)).resolves.toMatchObject({ httpStatus: 200 });
      const fromJson = JSON.parse(String((await lines.next()).value));

      const expected = {
        event_name: "txupdate",
        event_id: event.event_id,
        amount: "21000000.00000001",
        amount_type: "str",
        transaction: 42,
        credited: false,
        confirmations: -1,
        address: event.data.address,
        signature_ok: true,
      };
      expect(fromForm).toEqual({ content_type: "application/x-www-form-urlencoded", ...expected });
      expect(fromJson).toEqual({ content_type: "application/json", ...expected });
    } finally {
      await form.close();
      await json.close();
    }
  });
});
