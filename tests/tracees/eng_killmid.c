/* SIGKILLs itself while one thread blocks in read(2) on a pipe and the main thread and two more
 * are making getppid(2) calls; first tells stderr whether the reader was seen blocked. Usage:
 * eng_killmid EXPECTED_PPID. Survives (exit 1) only if kill fails. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_common.h"

static int g_pipe[2];
static volatile pid_t g_reader;

/* Keeps making skipped calls, so the kill usually finds it at (or on its way to) a stop. */
static void* Spinner(void* arg) {
  (void)arg;
  for (;;) syscall(SYS_getppid);
  return NULL;
}

static void* Reader(void* arg) {
  (void)arg;
  g_reader = (pid_t)syscall(SYS_gettid);
  char c;
  (void)!read(g_pipe[0], &c, 1);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  long expected = atol(argv[1]);
  if (pipe(g_pipe) != 0) return 3;
  pthread_t t;
  if (pthread_create(&t, NULL, Reader, NULL) != 0) return 4;
  for (int i = 0; i < 2; ++i) {
    if (pthread_create(&t, NULL, Spinner, NULL) != 0) return 4;
  }
  long bad = 0;
  /* Bounded: if the reader is never seen blocked, kill anyway (the test only needs no hang). */
  int blocked = 0;
  for (int i = 0; i < 100000 && !blocked; ++i) {
    if (syscall(SYS_getppid) != expected) ++bad;
    blocked = g_reader != 0 && BlockedInRead(g_reader);
  }
  dprintf(2, "reader-blocked=%d mismatches=%ld\n", blocked, bad);
  kill(getpid(), SIGKILL);
  return 1;
}
