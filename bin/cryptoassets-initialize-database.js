#!/usr/bin/env node
// The original cryptoassets.core's console script: `cryptoassets-initialize-database <config>` = `cryptoassets initialize-database <config>`.
import { launch } from "./launch.js";

launch("initialize-database");
