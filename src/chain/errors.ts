/** Errors of the chain follower and the broadcaster; each message names what is wrong. */
import { CryptoassetsError } from "../coins/errors.js";

/** Chain-following options that cannot work (a zero period, a bad batch size…). */
export class ChainConfigError extends CryptoassetsError {
  override name = "ChainConfigError";
}

/** The follower or broadcaster was used after stop()/close(). */
export class ChainStoppedError extends CryptoassetsError {
  override name = "ChainStoppedError";
}
