# Counts system calls by number: a raw tracepoint on sys_enter (no tracefs needed), one u64 a CPU
# per syscall number in a per-CPU hash (no atomics: each CPU adds to its own slot).
# Used by examples/export.yaml.
.type raw_tracepoint
.license "GPL"
.map syscalls type=percpu_hash key=4 value=8 entries=1024

  # struct bpf_raw_tracepoint_args: args[0] is the pt_regs pointer, args[1] the syscall number
  r2 = *(u64 *)(r1 + 8)
  *(u32 *)(r10 - 4) = r2
  r1 = map_fd(syscalls)
  r2 = r10
  r2 += -4
  call bpf_map_lookup_elem
  if r0 == 0 goto first
  r1 = *(u64 *)(r0 + 0)
  r1 += 1
  *(u64 *)(r0 + 0) = r1
  r0 = 0
  exit
first:
  # the first call with this number on any CPU: store 1 (BPF_NOEXIST; if another CPU won the
  # race, this CPU's slot exists now and the next call counts)
  r1 = 1
  *(u64 *)(r10 - 16) = r1
  r1 = map_fd(syscalls)
  r2 = r10
  r2 += -4
  r3 = r10
  r3 += -16
  r4 = 1
  call bpf_map_update_elem
  r0 = 0
  exit
