#!/usr/bin/env node
// The original cryptoassets.core's console script: `cryptoassets-helper-service <config>` = `cryptoassets helper-service <config>`.
import { launch } from "./launch.js";

launch("helper-service");
