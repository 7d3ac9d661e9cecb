/** The exporter's typed errors: each names the config line (or key path) it is about. */
import { InputError, RawbpfError } from "../index.js";

/**
 * Something wrong in an exporter config: an unknown key, a wrong type, a map that does not exist, a
 * decoder that does not fit its label's size. `location` is `FILE:LINE:COLUMN` for YAML (the key's
 * position) or `FILE (key.path)` for a module.
 */
export class ConfigError extends InputError {
  /** where in the config: `FILE:LINE:COLUMN`, or the file and the key path */
  readonly location: string;
  /** the key path, e.g. `metrics.counters[0].labels[1].size` */
  readonly path: string;
  constructor(location: string, path: string, message: string, options?: ErrorOptions) {
    super(`${location}: ${path ? `${path}: ` : ""}${message}`, options);
    this.location = location;
    this.path = path;
  }
}

/** A program source the exporter cannot load yet (a clang object, a TypeScript program). */
export class UnsupportedSourceError extends ConfigError {}

/** The listen address is taken or not allowed. */
export class ListenError extends RawbpfError {
  constructor(message: string, options?: ErrorOptions) {
    super("ELISTEN", message, options);
  }
}
