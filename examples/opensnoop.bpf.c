// opensnoop, in C: a tracepoint program on syscalls/sys_enter_openat that sends every file name
// one process opens (target_tgid, set from TypeScript before load) through a ring buffer.
// Compiled once with clang (`npm run build` does it when clang-19 is there; the compiled
// opensnoop.bpf.o ships beside this file) and loaded by examples/opensnoop-c.ts with BpfObject:
// no libbpf and no compiler at run time.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* the layout of the syscalls:sys_enter_* tracepoints' records (see their tracefs format files) */
struct sys_enter {
	__u64 common;
	long id;
	unsigned long args[6];
};

struct event {
	__u32 pid;
	__u32 flags;
	char comm[16];
	char filename[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

/* set before load (a read-only global: the verifier sees it as a constant) */
const volatile __u32 target_tgid = 0;
/* records the ring had no room for, read from TypeScript through shared memory */
__u64 lost = 0;

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct sys_enter *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event *e;

	if (target_tgid && tgid != target_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->pid = tgid;
	e->flags = ctx->args[2];
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
