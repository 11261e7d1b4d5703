#!/usr/bin/env node
// The original cryptoassets.core's console script: `cryptoassets-scan-received <config>` = `cryptoassets scan-received <config>`.
import { launch } from "./launch.js";

launch("scan-received");
