/** Ledger errors: each names what is wrong so an application can show or log it as is. */
import { CryptoassetsError } from "../coins/errors.js";

export { InvalidAddressError, InvalidAmountError } from "../coins/errors.js";

export class NotEnoughBalanceError extends CryptoassetsError {
  override name = "NotEnoughBalanceError";
}

export class SameAccountError extends CryptoassetsError {
  override name = "SameAccountError";
}

export class UnknownAccountError extends CryptoassetsError {
  override name = "UnknownAccountError";
}

export class UnknownTransactionError extends CryptoassetsError {
  override name = "UnknownTransactionError";
}

export class LedgerStateError extends CryptoassetsError {
  override name = "LedgerStateError";
}
