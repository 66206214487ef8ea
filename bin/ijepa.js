#!/usr/bin/env node
// The `ijepa` command: registers tsx so the TypeScript sources run as they are, then hands over to bin/ijepa_cli.ts.
import { register } from "tsx/esm/api";

register();
await import("./ijepa_cli.ts");
