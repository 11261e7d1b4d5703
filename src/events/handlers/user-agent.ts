/** `user-agent: cryptoassets/<version>`, so receivers can tell our deliveries apart in their access logs. */
import { VERSION } from "../../version.js";

export const USER_AGENT = `cryptoassets/${VERSION}`;
