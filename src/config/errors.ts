import { CryptoassetsError } from "../coins/errors.js";

/** A configuration problem; the message names every bad key path, one per line. */
export class ConfigError extends CryptoassetsError {
  override name = "ConfigError";
}
