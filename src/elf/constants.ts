/** ELF64 numbers (the System V gABI, elf(5)) that the readers use. */

export const EHDR_SIZE = 64;
export const SHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SYM_SIZE = 24;
export const REL_SIZE = 16;
export const RELA_SIZE = 24;

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_GNU_VERSYM = 0x6fffffff;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_GNU_IFUNC = 10;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STV_DEFAULT = 0;
export const STV_HIDDEN = 2;

export const PT_LOAD = 1;
export const PN_XNUM = 0xffff;

export const EM_BPF = 247;

/** BPF relocation types (llvm's ELFRelocs/BPF.def). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

/** The names of the BPF relocation types, for messages. */
export function bpfRelocationName(type: number): string {
  switch (type) {
    case R_BPF_NONE:
      return "R_BPF_NONE";
    case R_BPF_64_64:
      return "R_BPF_64_64";
    case R_BPF_64_ABS64:
      return "R_BPF_64_ABS64";
    case R_BPF_64_ABS32:
      return "R_BPF_64_ABS32";
    case R_BPF_64_NODYLD32:
      return "R_BPF_64_NODYLD32";
    case R_BPF_64_32:
      return "R_BPF_64_32";
    default:
      return `relocation type ${type}`;
  }
}
