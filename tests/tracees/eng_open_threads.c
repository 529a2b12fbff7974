/* 8 threads each open PATH 200 times, read it and compare with EXPECTED. Usage:
 * eng_open_threads PATH EXPECTED. Prints the number of opens and of failures or mismatches. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eng_common.h"

enum { kThreads = 8, kOpens = 200 };

static const char* g_path;
static const char* g_expected;

static void* Run(void* arg) {
  long bad = 0;
  size_t want = strlen(g_expected);
  for (int i = 0; i < kOpens; ++i) {
    char buf[256];
    int fd = open(g_path, O_RDONLY);
    if (fd < 0) {
      ++bad;
      continue;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != (ssize_t)want || memcmp(buf, g_expected, want) != 0) ++bad;
  }
  *(long*)arg = bad;
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  g_path = argv[1];
  g_expected = argv[2];
  long total = SumOverThreads(kThreads, Run);
  if (total < 0) return 3;
  printf("opens=%d bad=%ld\n", kThreads * kOpens, total);
  return total == 0 ? 0 : 1;
}
