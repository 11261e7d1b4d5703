/**
 * The original cryptoassets.core named classes by dotted Python paths. They stay valid
 * here as aliases of our short names, so an existing YAML file loads unchanged (except the
 * in-process callback, which must now name a JavaScript module).
 */
export const CLASS_ALIASES: Record<string, string> = {
  "cryptoassets.core.backend.bitcoind.Bitcoind": "bitcoind",
  "cryptoassets.core.backend.null.DummyCoinBackend": "null",
  "cryptoassets.core.backend.httpwalletnotify.HTTPWalletNotifyHandler": "http",
  "cryptoassets.core.backend.pipewalletnotify.PipedWalletNotifyHandler": "pipe",
  "cryptoassets.core.backend.rediswalletnotify.RedisWalletNotifyHandler": "redis",
  "cryptoassets.core.event.http.HTTPEventHandler": "http",
  "cryptoassets.core.event.script.ScriptEventHandler": "script",
  "cryptoassets.core.event.python.InProcessEventHandler": "in-process",
};

export function canonicalClass(name: unknown): unknown {
  return typeof name === "string" ? (CLASS_ALIASES[name] ?? name) : name;
}
