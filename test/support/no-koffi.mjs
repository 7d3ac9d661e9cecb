/**
 * Preloaded with `--import` by tests that play a machine where koffi's native part cannot load:
 * `import("koffi")` and `require("koffi")` (createRequire included) throw, as they do where koffi
 * ships no binary for the platform.
 */
import Module, { register } from "node:module";

const message = "Cannot load koffi: no native binary for this platform (test/support/no-koffi.mjs)";

const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === "koffi" || request.startsWith("koffi/")) throw new Error(message);
  return load.call(this, request, ...rest);
};

const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === "koffi" || specifier.startsWith("koffi/")) throw new Error(${JSON.stringify(message)});
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
