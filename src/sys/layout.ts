/**
 * bpf_attr and bpf_*_info layouts as data.
 *
 * Each layout lists its fields in declaration order with their C types; offsets follow the C
 * rules (natural alignment). `test/sys/layout.test.ts` checks every offset against the running
 * kernel's BTF (`union bpf_attr`, `struct bpf_prog_info`, ...), so a wrong layout fails a test
 * instead of corrupting memory. A name like `"value|next_key"` declares an inner union: both
 * names share one offset.
 */

/** C field types used in bpf_attr and the info structs. */
export type FieldType = "u8" | "u32" | "s32" | "u64" | "char16" | "tag8";

const SIZE: Record<FieldType, number> = { u8: 1, u32: 4, s32: 4, u64: 8, char16: 16, tag8: 8 };
const ALIGN: Record<FieldType, number> = { u8: 1, u32: 4, s32: 4, u64: 8, char16: 1, tag8: 1 };

/** A computed layout: field name to byte offset, field name to type, and the struct's size. */
export interface Layout<K extends string> {
  /** the name used by the kernel's BTF to find this struct (a member of union bpf_attr, or a struct) */
  readonly btfName: string;
  readonly offset: { readonly [F in K]: number };
  readonly type: { readonly [F in K]: FieldType };
  /** size of the struct, padded to its alignment */
  readonly size: number;
}

/** One field: its name (or `"a|b"` for names sharing the offset) and its C type. */
type Field = readonly [string, FieldType];

/**
 * An inner union of structs: each variant is a list of entries laid out from the union's start.
 * Made by {@link union}; field names inside a named member are written `"member.field"`, as the
 * layout test finds them in the kernel's BTF.
 */
export interface UnionEntry<V extends readonly (readonly Entry[])[] = readonly (readonly Entry[])[]> {
  readonly union: V;
}

/** A field or an inner union. */
export type Entry = Field | UnionEntry;

type Names<S extends string> = S extends `${infer A}|${infer B}` ? A | Names<B> : S;
/** Field names of an entry, through at most three levels of inner unions. */
type EntryNames<E, Depth extends unknown[] = []> = E extends readonly [infer N extends string, FieldType]
  ? Names<N>
  : Depth["length"] extends 3
    ? never
    : E extends UnionEntry<infer V>
      ? EntryNames<V[number][number], [...Depth, 0]>
      : never;

/** An inner union whose variants are laid out at the same offset (C's `union { struct {...} a; ... }`). */
export function union<const V extends readonly (readonly Entry[])[]>(...variants: V): UnionEntry<V> {
  return { union: variants };
}

function alignOf(entry: Entry): number {
  if ("union" in entry) {
    let a = 1;
    for (const v of entry.union) for (const e of v) a = Math.max(a, alignOf(e));
    return a;
  }
  return ALIGN[entry[1]];
}

/** Lays out `entries` from `at`; returns the end offset. */
function place(
  entries: readonly Entry[],
  at: number,
  offset: Record<string, number>,
  type: Record<string, FieldType>,
): number {
  for (const entry of entries) {
    const align = alignOf(entry);
    at = Math.ceil(at / align) * align;
    if ("union" in entry) {
      let end = at;
      for (const v of entry.union) end = Math.max(end, place(v, at, offset, type));
      at = Math.ceil(end / align) * align;
      continue;
    }
    const [names, t] = entry;
    for (const name of names.split("|")) {
      offset[name] = at;
      type[name] = t;
    }
    at += SIZE[t];
  }
  return at;
}

/** Lays out `fields` in order with C alignment; {@link union} entries hold inner unions. */
export function layout<const F extends readonly Entry[]>(
  btfName: string,
  fields: F,
): Layout<EntryNames<F[number]>> {
  const offset: Record<string, number> = {};
  const type: Record<string, FieldType> = {};
  let maxAlign = 1;
  for (const e of fields) maxAlign = Math.max(maxAlign, alignOf(e));
  const end = place(fields, 0, offset, type);
  const size = Math.ceil(end / maxAlign) * maxAlign;
  return Object.freeze({
    btfName,
    offset: Object.freeze(offset),
    type: Object.freeze(type),
    size,
  }) as Layout<EntryNames<F[number]>>;
}

/**
 * The fields of struct perf_event_mmap_page (the first page of a perf event's mapping) that a
 * reader of the data ring uses: `data_head` (the kernel's write position), `data_tail` (the
 * reader's position, written by user space), and where the data area starts and how long it is.
 * They follow 1 KiB of fields and padding the reader does not use, so the offsets are written
 * out; test/sys/layout.test.ts checks them against the kernel's BTF.
 */
export const PERF_EVENT_MMAP_PAGE: Layout<"data_head" | "data_tail" | "data_offset" | "data_size"> =
  Object.freeze({
    btfName: "perf_event_mmap_page",
    offset: Object.freeze({ data_head: 1024, data_tail: 1032, data_offset: 1040, data_size: 1048 }),
    type: Object.freeze({ data_head: "u64", data_tail: "u64", data_offset: "u64", data_size: "u64" }),
    size: 1088,
  } as const);

/** sizeof(union bpf_attr) on Linux 6.18; the kernel accepts a larger size if the tail is zero. */
export const ATTR_SIZE = 168;

export const MAP_CREATE = layout("map_create", [
  ["map_type", "u32"],
  ["key_size", "u32"],
  ["value_size", "u32"],
  ["max_entries", "u32"],
  ["map_flags", "u32"],
  ["inner_map_fd", "u32"],
  ["numa_node", "u32"],
  ["map_name", "char16"],
  ["map_ifindex", "u32"],
  ["btf_fd", "u32"],
  ["btf_key_type_id", "u32"],
  ["btf_value_type_id", "u32"],
  ["btf_vmlinux_value_type_id", "u32"],
  ["map_extra", "u64"],
  ["value_type_btf_obj_fd", "s32"],
  ["map_token_fd", "s32"],
]);

export const MAP_ELEM = layout("map_elem", [
  ["map_fd", "u32"],
  ["key", "u64"],
  ["value|next_key", "u64"],
  ["flags", "u64"],
]);

export const MAP_BATCH = layout("batch", [
  ["in_batch", "u64"],
  ["out_batch", "u64"],
  ["keys", "u64"],
  ["values", "u64"],
  ["count", "u32"],
  ["map_fd", "u32"],
  ["elem_flags", "u64"],
  ["flags", "u64"],
]);

export const PROG_LOAD = layout("prog_load", [
  ["prog_type", "u32"],
  ["insn_cnt", "u32"],
  ["insns", "u64"],
  ["license", "u64"],
  ["log_level", "u32"],
  ["log_size", "u32"],
  ["log_buf", "u64"],
  ["kern_version", "u32"],
  ["prog_flags", "u32"],
  ["prog_name", "char16"],
  ["prog_ifindex", "u32"],
  ["expected_attach_type", "u32"],
  ["prog_btf_fd", "u32"],
  ["func_info_rec_size", "u32"],
  ["func_info", "u64"],
  ["func_info_cnt", "u32"],
  ["line_info_rec_size", "u32"],
  ["line_info", "u64"],
  ["line_info_cnt", "u32"],
  ["attach_btf_id", "u32"],
  ["attach_prog_fd|attach_btf_obj_fd", "u32"],
  ["core_relo_cnt", "u32"],
  ["fd_array", "u64"],
  ["core_relos", "u64"],
  ["core_relo_rec_size", "u32"],
  ["log_true_size", "u32"],
  ["prog_token_fd", "s32"],
  ["fd_array_cnt", "u32"],
]);

export const OBJ = layout("obj", [
  ["pathname", "u64"],
  ["bpf_fd", "u32"],
  ["file_flags", "u32"],
  ["path_fd", "s32"],
]);

export const PROG_ATTACH = layout("prog_attach", [
  ["target_fd|target_ifindex", "u32"],
  ["attach_bpf_fd", "u32"],
  ["attach_type", "u32"],
  ["attach_flags", "u32"],
  ["replace_bpf_fd", "u32"],
  ["relative_fd|relative_id", "u32"],
  ["expected_revision", "u64"],
]);

export const QUERY = layout("query", [
  ["target_fd|target_ifindex", "u32"],
  ["attach_type", "u32"],
  ["query_flags", "u32"],
  ["attach_flags", "u32"],
  ["prog_ids", "u64"],
  ["prog_cnt|count", "u32"],
  ["prog_attach_flags", "u64"],
  ["link_ids", "u64"],
  ["link_attach_flags", "u64"],
  ["revision", "u64"],
]);

export const TASK_FD_QUERY = layout("task_fd_query", [
  ["pid", "u32"],
  ["fd", "u32"],
  ["flags", "u32"],
  ["buf_len", "u32"],
  ["buf", "u64"],
  ["prog_id", "u32"],
  ["fd_type", "u32"],
  ["probe_offset", "u64"],
  ["probe_addr", "u64"],
]);

export const TEST_RUN = layout("test", [
  ["prog_fd", "u32"],
  ["retval", "u32"],
  ["data_size_in", "u32"],
  ["data_size_out", "u32"],
  ["data_in", "u64"],
  ["data_out", "u64"],
  ["repeat", "u32"],
  ["duration", "u32"],
  ["ctx_size_in", "u32"],
  ["ctx_size_out", "u32"],
  ["ctx_in", "u64"],
  ["ctx_out", "u64"],
  ["flags", "u32"],
  ["cpu", "u32"],
  ["batch_size", "u32"],
]);

export const GET_ID = layout("get_id", [
  ["start_id|prog_id|map_id|btf_id|link_id", "u32"],
  ["next_id", "u32"],
  ["open_flags", "u32"],
  ["fd_by_id_token_fd", "s32"],
]);

export const INFO = layout("info", [
  ["bpf_fd", "u32"],
  ["info_len", "u32"],
  ["info", "u64"],
]);

export const BTF_LOAD = layout("btf_load", [
  ["btf", "u64"],
  ["btf_log_buf", "u64"],
  ["btf_size", "u32"],
  ["btf_log_size", "u32"],
  ["btf_log_level", "u32"],
  ["btf_log_true_size", "u32"],
  ["btf_flags", "u32"],
  ["btf_token_fd", "s32"],
]);

export const ENABLE_STATS = layout("enable_stats", [["type", "u32"]]);

export const LINK_CREATE = layout("link_create", [
  ["prog_fd|map_fd", "u32"],
  ["target_fd|target_ifindex", "u32"],
  ["attach_type", "u32"],
  ["flags", "u32"],
  union(
    [["target_btf_id", "u32"]],
    [
      ["iter_info", "u64"],
      ["iter_info_len", "u32"],
    ],
    [["perf_event.bpf_cookie", "u64"]],
    [
      ["tracing.target_btf_id", "u32"],
      ["tracing.cookie", "u64"],
    ],
    [
      ["tcx.relative_fd|tcx.relative_id", "u32"],
      ["tcx.expected_revision", "u64"],
    ],
    [
      ["cgroup.relative_fd|cgroup.relative_id", "u32"],
      ["cgroup.expected_revision", "u64"],
    ],
    [
      ["netfilter.pf", "u32"],
      ["netfilter.hooknum", "u32"],
      ["netfilter.priority", "s32"],
      ["netfilter.flags", "u32"],
    ],
    [
      ["netkit.relative_fd|netkit.relative_id", "u32"],
      ["netkit.expected_revision", "u64"],
    ],
    [
      ["uprobe_multi.path", "u64"],
      ["uprobe_multi.offsets", "u64"],
      ["uprobe_multi.ref_ctr_offsets", "u64"],
      ["uprobe_multi.cookies", "u64"],
      ["uprobe_multi.cnt", "u32"],
      ["uprobe_multi.flags", "u32"],
      ["uprobe_multi.pid", "u32"],
    ],
    [
      ["kprobe_multi.flags", "u32"],
      ["kprobe_multi.cnt", "u32"],
      ["kprobe_multi.syms", "u64"],
      ["kprobe_multi.addrs", "u64"],
      ["kprobe_multi.cookies", "u64"],
    ],
  ),
]);

export const LINK_UPDATE = layout("link_update", [
  ["link_fd", "u32"],
  ["new_prog_fd|new_map_fd", "u32"],
  ["flags", "u32"],
  ["old_prog_fd|old_map_fd", "u32"],
]);

export const LINK_DETACH = layout("link_detach", [["link_fd", "u32"]]);

export const ITER_CREATE = layout("iter_create", [
  ["link_fd", "u32"],
  ["flags", "u32"],
]);

export const RAW_TRACEPOINT = layout("raw_tracepoint", [
  ["name", "u64"],
  ["prog_fd", "u32"],
  ["cookie", "u64"],
]);

export const PROG_INFO = layout("bpf_prog_info", [
  ["type", "u32"],
  ["id", "u32"],
  ["tag", "tag8"],
  ["jited_prog_len", "u32"],
  ["xlated_prog_len", "u32"],
  ["jited_prog_insns", "u64"],
  ["xlated_prog_insns", "u64"],
  ["load_time", "u64"],
  ["created_by_uid", "u32"],
  ["nr_map_ids", "u32"],
  ["map_ids", "u64"],
  ["name", "char16"],
  ["ifindex", "u32"],
  ["gpl_compatible", "u32"],
  ["netns_dev", "u64"],
  ["netns_ino", "u64"],
  ["nr_jited_ksyms", "u32"],
  ["nr_jited_func_lens", "u32"],
  ["jited_ksyms", "u64"],
  ["jited_func_lens", "u64"],
  ["btf_id", "u32"],
  ["func_info_rec_size", "u32"],
  ["func_info", "u64"],
  ["nr_func_info", "u32"],
  ["nr_line_info", "u32"],
  ["line_info", "u64"],
  ["jited_line_info", "u64"],
  ["nr_jited_line_info", "u32"],
  ["line_info_rec_size", "u32"],
  ["jited_line_info_rec_size", "u32"],
  ["nr_prog_tags", "u32"],
  ["prog_tags", "u64"],
  ["run_time_ns", "u64"],
  ["run_cnt", "u64"],
  ["recursion_misses", "u64"],
  ["verified_insns", "u32"],
  ["attach_btf_obj_id", "u32"],
  ["attach_btf_id", "u32"],
]);

export const MAP_INFO = layout("bpf_map_info", [
  ["type", "u32"],
  ["id", "u32"],
  ["key_size", "u32"],
  ["value_size", "u32"],
  ["max_entries", "u32"],
  ["map_flags", "u32"],
  ["name", "char16"],
  ["ifindex", "u32"],
  ["btf_vmlinux_value_type_id", "u32"],
  ["netns_dev", "u64"],
  ["netns_ino", "u64"],
  ["btf_id", "u32"],
  ["btf_key_type_id", "u32"],
  ["btf_value_type_id", "u32"],
  ["btf_vmlinux_id", "u32"],
  ["map_extra", "u64"],
]);

export const BTF_INFO = layout("bpf_btf_info", [
  ["btf", "u64"],
  ["btf_size", "u32"],
  ["id", "u32"],
  ["name", "u64"],
  ["name_len", "u32"],
  ["kernel_btf", "u32"],
]);

export const LINK_INFO = layout("bpf_link_info", [
  ["type", "u32"],
  ["id", "u32"],
  ["prog_id", "u32"],
  union(
    [
      ["raw_tracepoint.tp_name", "u64"],
      ["raw_tracepoint.tp_name_len", "u32"],
      ["raw_tracepoint.cookie", "u64"],
    ],
    [
      ["tracing.attach_type", "u32"],
      ["tracing.target_obj_id", "u32"],
      ["tracing.target_btf_id", "u32"],
      ["tracing.cookie", "u64"],
    ],
    [
      ["cgroup.cgroup_id", "u64"],
      ["cgroup.attach_type", "u32"],
    ],
    [
      ["netns.netns_ino", "u32"],
      ["netns.attach_type", "u32"],
    ],
    [["xdp.ifindex", "u32"]],
    [["struct_ops.map_id", "u32"]],
    [
      ["netfilter.pf", "u32"],
      ["netfilter.hooknum", "u32"],
      ["netfilter.priority", "s32"],
      ["netfilter.flags", "u32"],
    ],
    [
      ["perf_event.type", "u32"],
      union(
        [
          ["perf_event.uprobe.file_name", "u64"],
          ["perf_event.uprobe.name_len", "u32"],
          ["perf_event.uprobe.offset", "u32"],
          ["perf_event.uprobe.cookie", "u64"],
          ["perf_event.uprobe.ref_ctr_offset", "u64"],
        ],
        [
          ["perf_event.kprobe.func_name", "u64"],
          ["perf_event.kprobe.name_len", "u32"],
          ["perf_event.kprobe.offset", "u32"],
          ["perf_event.kprobe.addr", "u64"],
          ["perf_event.kprobe.missed", "u64"],
          ["perf_event.kprobe.cookie", "u64"],
        ],
        [
          ["perf_event.tracepoint.tp_name", "u64"],
          ["perf_event.tracepoint.name_len", "u32"],
          ["perf_event.tracepoint.cookie", "u64"],
        ],
        [
          ["perf_event.event.config", "u64"],
          ["perf_event.event.type", "u32"],
          ["perf_event.event.cookie", "u64"],
        ],
      ),
    ],
    [
      ["kprobe_multi.addrs", "u64"],
      ["kprobe_multi.count", "u32"],
      ["kprobe_multi.flags", "u32"],
      ["kprobe_multi.missed", "u64"],
      ["kprobe_multi.cookies", "u64"],
    ],
    [
      ["uprobe_multi.path", "u64"],
      ["uprobe_multi.offsets", "u64"],
      ["uprobe_multi.ref_ctr_offsets", "u64"],
      ["uprobe_multi.cookies", "u64"],
      ["uprobe_multi.path_size", "u32"],
      ["uprobe_multi.count", "u32"],
      ["uprobe_multi.flags", "u32"],
      ["uprobe_multi.pid", "u32"],
    ],
    [
      ["tcx.ifindex", "u32"],
      ["tcx.attach_type", "u32"],
    ],
    [
      ["netkit.ifindex", "u32"],
      ["netkit.attach_type", "u32"],
    ],
    [
      ["sockmap.map_id", "u32"],
      ["sockmap.attach_type", "u32"],
    ],
    [
      ["iter.target_name", "u64"],
      ["iter.target_name_len", "u32"],
      union([["iter.map.map_id", "u32"]]),
      union(
        [
          ["iter.cgroup.cgroup_id", "u64"],
          ["iter.cgroup.order", "u32"],
        ],
        [
          ["iter.task.tid", "u32"],
          ["iter.task.pid", "u32"],
        ],
      ),
    ],
  ),
]);

/** Every layout, for the BTF check. */
export const ALL_LAYOUTS = [
  MAP_CREATE,
  MAP_ELEM,
  MAP_BATCH,
  PROG_LOAD,
  OBJ,
  PROG_ATTACH,
  QUERY,
  TASK_FD_QUERY,
  TEST_RUN,
  GET_ID,
  INFO,
  BTF_LOAD,
  ENABLE_STATS,
  LINK_CREATE,
  LINK_UPDATE,
  LINK_DETACH,
  ITER_CREATE,
  RAW_TRACEPOINT,
  PROG_INFO,
  MAP_INFO,
  BTF_INFO,
  LINK_INFO,
] as const;
