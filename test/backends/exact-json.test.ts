/**
 * parseExactJson gives what lossless-json's parse gives (every number as a LosslessNumber of
 * its exact text) on bitcoind's replies, on strings built to be taken for numbers (the
 * marker U+0000 at a string's or key's start, digits, escaped quotes and backslashes), on
 * 2,000 random documents, and rejects what is not JSON.
 */
import { isLosslessNumber, parse } from "lossless-json";
import { describe, expect, it } from "vitest";
import { parseExactJson } from "../../src/backends/bitcoind/exact-json.js";
import { Rng } from "../support/prng.js";

/** Both parsers' trees in one comparable form: numbers as {n: text}. */
function plain(value: unknown): unknown {
  if (isLosslessNumber(value)) return { n: value.toString() };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null)
    return Object.entries(value).map(([key, item]) => [key, plain(item)]);
  return value;
}

const same = (text: string) => expect(plain(parseExactJson(text)), text).toEqual(plain(parse(text)));

const GETTRANSACTION = `{"result":{"amount":-20999999.99999999,"fee":-0.00000141,"confirmations":0,"trusted":false,
"txid":"ee18872f98d1ec86eb35aeee17ae664747ae2aee4865d59dba24e5382de6cce5","walletconflicts":[],
"time":1796090410,"bip125-replaceable":"yes","details":[{"address":"bcrt1qtkfcafdx","category":"send",
"amount":-0.00010000,"label":"12.5","vout":0,"fee":-0.00000141,"abandoned":false}],"hex":"0200",
"lastprocessedblock":{"hash":"d29b","height":101}},"error":null,"id":1}`;

describe("parseExactJson", () => {
  it("keeps every number's exact text, as lossless-json does", () => {
    same(GETTRANSACTION);
    same(`[1, -0, 0.1, 1e-7, 1E+400, -12.50000000, 123456789012345678901234567890, 0.00000001]`);
    same("42");
    same('{"a":[],"b":{},"c":[[1],[{"d":2.0}]],"e":null,"f":true,"g":false}');
    const tx = parseExactJson(GETTRANSACTION) as {
      result: { amount: unknown; details: Array<{ label: unknown }> };
    };
    expect(String(tx.result.amount)).toBe("-20999999.99999999");
    expect(tx.result.details[0]?.label).toBe("12.5");
  });

  it("never takes a string for a number: the marker, digits, escapes, keys", () => {
    same('{"label":"\\u0000"}');
    same('{"label":"\\u00001.5"}');
    same('{"label":"\\u0000\\u00002"}');
    same('{"\\u0000":1,"\\u0000x":"\\u0000","x":"\\\\u0000"}');
    same('{"label":"\\\\","next":1.5}');
    same('{"label":"a\\"b\\\\\\"c","next":-2}');
    same('["1", "-1", "1e5", " 2 ", "\\"3\\"", "\\\\\\\\4"]');
    same('{"label":"\\u0030\\u002e5"}');
    same(' { "a" : 1 , "b" : [ 2 , 3 ] } ');
  });

  it("agrees with lossless-json on 2,000 random documents", () => {
    const rng = new Rng(14);
    const pieces = [
      "\\u0000",
      "\\\\",
      '\\"',
      "1",
      "-",
      ".",
      "e",
      "a",
      " ",
      "\\n",
      "é",
      "\\ud83d\\ude00",
      ":",
      ",",
    ];
    const string = () => `"${Array.from({ length: rng.int(0, 6) }, () => rng.pick(pieces)).join("")}"`;
    const number = () =>
      rng.pick([
        () => String(rng.int(-1000, 1000)),
        () => `${rng.int(-99, 99)}.${String(rng.int(0, 99_999_999)).padStart(8, "0")}`,
        () => `${rng.int(1, 9)}e${rng.pick(["", "+", "-"])}${rng.int(0, 30)}`,
        () => "123456789012345678901234567890.000000000000000001",
      ])();
    const value = (depth: number): string => {
      const kind = rng.int(0, depth > 3 ? 3 : 5);
      if (kind === 0) return number();
      if (kind === 1) return string();
      if (kind === 2) return rng.pick(["true", "false", "null"]);
      if (kind === 3) return number();
      if (kind === 4) return `[${Array.from({ length: rng.int(0, 4) }, () => value(depth + 1)).join(",")}]`;
      const keys = new Set(Array.from({ length: rng.int(0, 4) }, string));
      return `{${[...keys].map((key) => `${key}:${value(depth + 1)}`).join(",")}}`;
    };
    for (let i = 0; i < 2000; i++) same(value(0));
  });

  it("rejects what is not JSON", () => {
    for (const text of [
      "",
      "{",
      '{"a":1',
      '"open',
      "01",
      "1.",
      "-",
      "--1",
      "1.2.3",
      "+1",
      ".5",
      "1e",
      '{"a":1,}',
      "[1 2]",
      "nul",
      "NaN",
    ]) {
      expect(() => parse(text), text).toThrow();
      expect(() => parseExactJson(text), text).toThrow(SyntaxError);
    }
  });
});
