/* 8 threads each call getppid(2) 1000 times and count results other than argv[1]. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_common.h"

enum { kThreads = 8, kCalls = 1000 };

static long g_expected;

static void* Run(void* arg) {
  long bad = 0;
  for (int i = 0; i < kCalls; ++i) {
    if (syscall(SYS_getppid) != g_expected) ++bad;
  }
  *(long*)arg = bad;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  g_expected = atol(argv[1]);
  long total = SumOverThreads(kThreads, Run);
  if (total < 0) return 3;
  printf("calls=%d mismatches=%ld\n", kThreads * kCalls, total);
  return total == 0 ? 0 : 1;
}
