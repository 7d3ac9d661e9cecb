// USDT through a clang object and libbpf's own usdt.bpf.h: BPF_USDT reads the arguments from the
// spec records rawbpf writes (the same layout as libbpf's). TARGET is the probed binary's path,
// given by the test (-DTARGET=...). Written for rawbpf's USDT tests.
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} sums SEC(".maps");

static __always_inline void add(__u32 k, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&sums, &k);

	if (p)
		__sync_fetch_and_add(p, v);
}

SEC("usdt/" TARGET ":rawbpf:hit")
int BPF_USDT(on_hit, int i, long big, long c, long a, long w)
{
	add(0, i);
	add(1, big);
	add(2, c);
	add(3, a);
	add(4, w);
	add(5, bpf_usdt_arg_cnt(ctx));
	add(6, bpf_usdt_cookie(ctx));
	add(7, 1);
	return 0;
}
