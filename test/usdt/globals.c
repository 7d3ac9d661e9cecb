/* USDT target for test/usdt/rip.test.ts: probes whose arguments are global variables, which gcc
 * at -O2 writes as %rip-relative operands (-4@counter(%rip), -8@8+glob(%rip)). It prints the sums
 * of the values it passed, the oracle the test compares the BPF side with. */
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

int counter = 41;
static long total = 7;
struct pair { int a; long b; } glob = { 3, 99 };
long arr[4] = { 1, 2, 3, 4 };
short tiny = 5;
long sums[5];

/* not inlined: the globals change out of fire's sight, so the probe reads them from memory */
__attribute__((noinline)) void bump(int i) {
  counter -= 3 * i; /* goes negative: a 4-byte signed argument is sign-extended */
  total += 1000000000L * i;
  glob.b += 5;
  arr[2] -= i;
  tiny = (short)(tiny - 7 * i);
  sums[0] += counter; sums[1] += total; sums[2] += glob.b; sums[3] += arr[2]; sums[4] += tiny;
}

__attribute__((noinline)) void fire(int n) {
  for (int i = 1; i <= n; i++) {
    bump(i);
    DTRACE_PROBE5(rawbpf, global, counter, total, glob.b, arr[2], tiny);
  }
}

int main(int argc, char **argv) {
  fire(atoi(argv[1]));
  printf("%ld %ld %ld %ld %ld\n", sums[0], sums[1], sums[2], sums[3], sums[4]);
  return 0;
}
