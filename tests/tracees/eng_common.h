/* Helpers shared by the eng_* tracees (each tracee is its own program: these are static inline). */
#ifndef UMVIEW_TESTS_TRACEES_ENG_COMMON_H_
#define UMVIEW_TESTS_TRACEES_ENG_COMMON_H_

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* True when thread `tid` of this process sleeps (state S) inside read(2) (syscall 0). */
static inline int BlockedInRead(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0 || strncmp(buf, "0 ", 2) != 0) return 0;
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');
  return p != NULL && p[1] == ' ' && p[2] == 'S';
}

/* Runs `fn` on `n` threads at once, thread i getting a pointer to a long in which it stores its
 * count of failures; returns the sum of the counts, or -1 if a thread could not be created. */
static inline long SumOverThreads(int n, void* (*fn)(void*)) {
  pthread_t t[n];
  long bad[n];
  for (int i = 0; i < n; ++i) {
    if (pthread_create(&t[i], NULL, fn, &bad[i]) != 0) return -1;
  }
  long total = 0;
  for (int i = 0; i < n; ++i) {
    pthread_join(t[i], NULL);
    total += bad[i];
  }
  return total;
}

#endif /* UMVIEW_TESTS_TRACEES_ENG_COMMON_H_ */
