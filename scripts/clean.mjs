/** `npm run build`'s first step: removes dist/, so nothing an earlier `tsc -p .` left (tests, benches, maps) is packed. */
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

rmSync(join(dirname(fileURLToPath(import.meta.url)), "..", "dist"), { recursive: true, force: true });
