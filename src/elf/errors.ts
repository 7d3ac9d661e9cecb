/**
 * Typed errors of reading ELF files: which file, which part, at which offset, and why. The ELF
 * layer is pure and imports nothing of rawbpf's but itself, so its errors have their own base,
 * {@link ElfError}, with the same stable `code` ("EINPUT") as rawbpf's other bad-input errors.
 */

/** Base of every error the ELF layer throws: bad input, found before any kernel is asked. */
export class ElfError extends Error {
  /** stable, machine-readable: "EINPUT", as rawbpf's InputError */
  readonly code = "EINPUT";
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The bytes are not an ELF64 little-endian file rawbpf can read, or they are damaged: a header,
 * section, symbol or relocation points outside the file or contradicts another part.
 */
export class ElfFormatError extends ElfError {
  /** the file (or the name it was read as) */
  readonly file: string;
  /** the section the damage is in, when one is known */
  readonly section: string | undefined;
  /** the file offset of the damaged part, when one is known */
  readonly offset: number | undefined;
  constructor(file: string, why: string, options: { as?: string; section?: string; offset?: number } = {}) {
    const where =
      options.section !== undefined || options.offset !== undefined
        ? ` (${options.section !== undefined ? `section ${options.section}` : ""}${
            options.section !== undefined && options.offset !== undefined ? ", " : ""
          }${options.offset !== undefined ? `file offset ${options.offset}` : ""})`
        : "";
    super(`${file} cannot be read as ${options.as ?? "an ELF executable or shared library"}: ${why}${where}`);
    this.file = file;
    this.section = options.section;
    this.offset = options.offset;
  }
}

/** The binary has no function symbol by that name (in .symtab or .dynsym). */
export class SymbolNotFoundError extends ElfError {
  /** the binary */
  readonly file: string;
  /** the name that was looked for */
  readonly symbol: string;
  /** the closest function name the binary has, when one is close */
  readonly suggestion: string | undefined;
  constructor(file: string, symbol: string, suggestion: string | undefined, why?: string) {
    super(
      why ??
        `${file} has no function '${symbol}' in its symbol tables (.symtab, .dynsym)` +
          (suggestion ? ` — did you mean '${suggestion}'?` : "") +
          " (`nm -D --defined-only FILE` and `nm FILE` list them; a stripped binary keeps only its exported functions)",
    );
    this.file = file;
    this.symbol = symbol;
    this.suggestion = suggestion;
  }
}

/** Several different functions carry the name (static functions of different source files, say). */
export class AmbiguousSymbolError extends ElfError {
  /** the binary */
  readonly file: string;
  /** the name that was looked for */
  readonly symbol: string;
  /** the file offsets of the functions by that name */
  readonly offsets: readonly number[];
  constructor(file: string, symbol: string, offsets: readonly number[]) {
    super(
      `${file} has ${offsets.length} different local functions named '${symbol}' ` +
        `(at file offsets ${offsets.map((o) => `0x${o.toString(16)}`).join(", ")}): ` +
        "give the offset of the one to probe instead of its name",
    );
    this.file = file;
    this.symbol = symbol;
    this.offsets = offsets;
  }
}
