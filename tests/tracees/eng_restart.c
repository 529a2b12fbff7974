/* A thread blocks in read(2) on a pipe; the main thread interrupts it with a SIGUSR1 whose handler
 * has SA_RESTART, then writes one byte. Prints what read returned (the kernel restarts the read,
 * so outside a view it is 1) and how many times the handler ran. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_common.h"

static int g_pipe[2];
static volatile pid_t g_reader;
static volatile sig_atomic_t g_handled;
static long g_result;
static int g_errno;

static void Handler(int sig) {
  (void)sig;
  ++g_handled;
}

static void* Reader(void* arg) {
  (void)arg;
  g_reader = (pid_t)syscall(SYS_gettid);
  char c;
  errno = 0;
  g_result = read(g_pipe[0], &c, 1);
  g_errno = errno;
  return NULL;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Handler;
  sa.sa_flags = SA_RESTART;
  if (sigaction(SIGUSR1, &sa, NULL) != 0 || pipe(g_pipe) != 0) return 2;
  pthread_t t;
  if (pthread_create(&t, NULL, Reader, NULL) != 0) return 3;
  while (g_reader == 0 || !BlockedInRead(g_reader)) sched_yield();
  syscall(SYS_tgkill, getpid(), g_reader, SIGUSR1);
  /* The byte goes in only once the handler ran, so the first read cannot just succeed. */
  while (g_handled == 0) sched_yield();
  if (write(g_pipe[1], "x", 1) != 1) return 4;
  pthread_join(t, NULL);
  printf("read=%ld errno=%d handled=%d\n", g_result, g_errno, (int)g_handled);
  return 0;
}
