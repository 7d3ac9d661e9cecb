/* USDT target for test/usdt: probes with register, memory and constant arguments and one behind a
 * semaphore. It prints what it passed to the probes, the oracle the test compares the BPF side with. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* with _SDT_HAS_SEMAPHORES every probe of the file has one; only "gated" is looked at */
unsigned short rawbpf_hit_semaphore __attribute__((unused)) __attribute__((section(".probes")));
unsigned short rawbpf_konst_semaphore __attribute__((unused)) __attribute__((section(".probes")));
unsigned short rawbpf_gated_semaphore __attribute__((unused)) __attribute__((section(".probes")));
#define RAWBPF_GATED_ENABLED() __builtin_expect(*(volatile unsigned short *)&rawbpf_gated_semaphore, 0)

struct pair { long a; int b; };

__attribute__((noinline)) void work(int n, long *sums) {
  volatile struct pair p = { -5, 7 };
  for (int i = 1; i <= n; i++) {
    long big = (long)i * 1000000000L;
    signed char c = (signed char)-i;
    unsigned short w = (unsigned short)(60000 + i);
    DTRACE_PROBE5(rawbpf, hit, i, big, c, p.a, w);
    DTRACE_PROBE2(rawbpf, konst, 5, -3);
    sums[0] += i; sums[1] += big; sums[2] += c; sums[3] += p.a; sums[4] += w;
    if (RAWBPF_GATED_ENABLED()) {
      sums[5]++;
      DTRACE_PROBE1(rawbpf, gated, i);
    }
  }
}

int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  if (argc > 2) { /* "wait": block until the parent writes a byte (or goes away) */
    char ch;
    alarm(60);
    if (read(0, &ch, 1) < 0) return 2;
  }
  long sums[6] = { 0 };
  work(n, sums);
  printf("%ld %ld %ld %ld %ld %ld\n", sums[0], sums[1], sums[2], sums[3], sums[4], sums[5]);
  return 0;
}
