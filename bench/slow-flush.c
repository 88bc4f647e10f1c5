/*
 * A slow disk for the bench (bench/slow-disk.ts): loaded with LD_PRELOAD, every fsync and fdatasync of the
 * process (and of the processes it starts) first sleeps FLUSH_DELAY_MS milliseconds (a decimal; 0 or unset:
 * no delay), then calls the real one. Cloud volumes and network storage take 1-20 ms per flush where a local
 * NVMe disk takes ~0.1 ms; this makes that visible on any machine. A bench-only tool, compiled with the
 * system's `cc` when the bench runs: cc -shared -fPIC -O2 -o slow-flush.so slow-flush.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

static double delay_ms = -1;

static void wait_for_the_disk(void) {
  if (delay_ms < 0) {
    const char *value = getenv("FLUSH_DELAY_MS");
    delay_ms = value == NULL ? 0 : atof(value);
  }
  if (delay_ms <= 0) return;
  struct timespec left = { (time_t)(delay_ms / 1000), (long)((delay_ms - 1000.0 * (long)(delay_ms / 1000)) * 1e6) };
  while (nanosleep(&left, &left) == -1 && errno == EINTR) {}
}

int fsync(int fd) {
  static int (*real)(int) = NULL;
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  int saved = errno;
  wait_for_the_disk();
  errno = saved;
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int) = NULL;
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  int saved = errno;
  wait_for_the_disk();
  errno = saved;
  return real(fd);
}
