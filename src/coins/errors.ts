/** Errors about money and addresses, shared by the ledger, the CLI and the backends. */
export class CryptoassetsError extends Error {
  override name = "CryptoassetsError";
}

export class InvalidAmountError extends CryptoassetsError {
  override name = "InvalidAmountError";
}

export class InvalidAddressError extends CryptoassetsError {
  override name = "InvalidAddressError";
}

export class UnknownCoinError extends CryptoassetsError {
  override name = "UnknownCoinError";
}
