/**
 * Kfuncs that acquire and release references, by name. The kernel's BTF says what a kfunc takes
 * and returns, not whether it acquires a reference (KF_ACQUIRE), gives one back (KF_RELEASE) or
 * may return null (KF_RET_NULL): those flags live in the BTF_ID sets the kernel registers per
 * program type (kernel/bpf/helpers.c `generic_btf_ids`, kernel/bpf/cpumask.c
 * `cpumask_kfunc_btf_ids`, net/netfilter/nf_conntrack_bpf.c, net/xfrm/xfrm_state_bpf.c), which
 * are not in /sys/kernel/btf/vmlinux. This table writes them down for the kfuncs usable from the
 * program types the compiler loads that may call kfuncs (tp_btf, tc, xdp; not raw_tp, not
 * tracepoint or kprobe); test/lang/kfunc-ref.test.ts checks
 * every acquiring entry present in the running kernel against its verifier.
 *
 * A kfunc not in the table is called as before: its result is an integer or a reference to one.
 */
import type { Btf } from "../btf/decode.js";

/** What a kfunc's result is when it acquires a reference. */
export interface KfuncAcquire {
  /** what the reference is, for messages: `task`, `cgroup` */
  readonly noun: string;
  /** the kfuncs that give it back (the first is the one messages name) */
  readonly releasedBy: readonly string[];
  /** KF_RET_NULL: the result may be null and must be checked before use */
  readonly nullable: boolean;
}

/** A kfunc's reference rule: what it acquires, and whether it releases its first argument. */
export interface KfuncRule {
  /** KF_ACQUIRE: the result is a new reference the program must give back on every path */
  readonly acquires?: KfuncAcquire;
  /** KF_RELEASE: the first argument is a reference this call gives back */
  readonly releases?: boolean;
}

const task = (nullable = true): KfuncRule => ({
  acquires: { noun: "task", releasedBy: ["bpf_task_release"], nullable },
});
const cgroup: KfuncRule = {
  acquires: { noun: "cgroup", releasedBy: ["bpf_cgroup_release"], nullable: true },
};
const conn: KfuncRule = { acquires: { noun: "connection", releasedBy: ["bpf_ct_release"], nullable: true } };
const RELEASE: KfuncRule = { releases: true };

/** The kfuncs that acquire or release references, by name, with their flags from the kernel's sources. */
export const KFUNC_RULES: ReadonlyMap<string, KfuncRule> = new Map<string, KfuncRule>([
  // kernel/bpf/helpers.c, generic_btf_ids (tracing, tc, xdp, syscall, struct_ops, cgroup_skb)
  ["bpf_task_acquire", task()], // KF_ACQUIRE | KF_RCU | KF_RET_NULL
  ["bpf_task_from_pid", task()], // KF_ACQUIRE | KF_RET_NULL
  ["bpf_task_from_vpid", task()], // KF_ACQUIRE | KF_RET_NULL
  ["bpf_task_release", RELEASE],
  ["bpf_cgroup_acquire", cgroup], // KF_ACQUIRE | KF_RCU | KF_RET_NULL
  ["bpf_cgroup_ancestor", cgroup], // KF_ACQUIRE | KF_RCU | KF_RET_NULL
  ["bpf_cgroup_from_id", cgroup], // KF_ACQUIRE | KF_RET_NULL
  ["bpf_task_get_cgroup1", cgroup], // KF_ACQUIRE | KF_RCU | KF_RET_NULL
  ["bpf_cgroup_release", RELEASE],
  // kernel/bpf/cpumask.c, cpumask_kfunc_btf_ids (tracing, struct_ops, syscall)
  [
    "bpf_cpumask_create",
    { acquires: { noun: "cpumask", releasedBy: ["bpf_cpumask_release"], nullable: true } },
  ],
  [
    "bpf_cpumask_acquire",
    { acquires: { noun: "cpumask", releasedBy: ["bpf_cpumask_release"], nullable: false } },
  ],
  ["bpf_cpumask_release", RELEASE],
  // net/netfilter/nf_conntrack_bpf.c (xdp, tc): a lookup's connection goes back with bpf_ct_release;
  // an allocated one (struct nf_conn___init) only through bpf_ct_insert_entry, which releases it
  // and acquires the inserted connection (or gives null)
  ["bpf_xdp_ct_lookup", conn], // KF_ACQUIRE | KF_RET_NULL
  ["bpf_skb_ct_lookup", conn],
  [
    "bpf_xdp_ct_alloc",
    { acquires: { noun: "new connection", releasedBy: ["bpf_ct_insert_entry"], nullable: true } },
  ],
  [
    "bpf_skb_ct_alloc",
    { acquires: { noun: "new connection", releasedBy: ["bpf_ct_insert_entry"], nullable: true } },
  ],
  ["bpf_ct_insert_entry", { ...conn, releases: true }], // KF_ACQUIRE | KF_RET_NULL | KF_RELEASE
  ["bpf_ct_release", RELEASE],
  // net/xfrm/xfrm_state_bpf.c (xdp)
  [
    "bpf_xdp_get_xfrm_state",
    { acquires: { noun: "xfrm state", releasedBy: ["bpf_xdp_xfrm_state_release"], nullable: true } },
  ],
  ["bpf_xdp_xfrm_state_release", RELEASE],
  // CONFIG_KEYS (kernel/trace/bpf_trace.c, later kernel/bpf/helpers.c): a system keyring by id,
  // KF_ACQUIRE | KF_RET_NULL (bpf_lookup_user_key is sleepable too: not for these program types)
  ["bpf_lookup_system_key", { acquires: { noun: "key", releasedBy: ["bpf_key_put"], nullable: true } }],
  ["bpf_key_put", RELEASE],
]);

/** The kfuncs whose references `release` gives back. */
export function acquirersOf(release: string): string[] {
  return [...KFUNC_RULES].filter(([, r]) => r.acquires?.releasedBy.includes(release)).map(([n]) => n);
}

/**
 * The struct a kfunc returns a pointer to, from the kernel's BTF (`bpf_task_from_pid` →
 * `task_struct`): its BTF id and name, or undefined when it returns something else.
 */
export function kfuncReturnStruct(btf: Btf, name: string): { id: number; name: string } | undefined {
  const fn = btf.findId(name, "func");
  if (fn === undefined) return undefined;
  const f = btf.type(fn);
  if (f.kind !== "func") return undefined;
  const proto = btf.type(f.type);
  if (proto.kind !== "func_proto" || proto.returnType === 0) return undefined;
  const ptr = btf.type(proto.returnType);
  if (ptr.kind !== "ptr") return undefined;
  let id = ptr.type;
  for (;;) {
    const t = btf.type(id);
    if (t.kind === "typedef" || t.kind === "const" || t.kind === "volatile" || t.kind === "type_tag")
      id = t.type;
    else if (t.kind === "struct") return { id, name: t.name };
    else return undefined;
  }
}
