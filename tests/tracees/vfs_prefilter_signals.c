// vfs_prefilter_signals N INSIDE OUTSIDE: THREADS threads (4) each make N rounds of stat,
// fstatat through a directory descriptor, open+read+close and readlink on INSIDE (a file in a
// bind: escalated by the notification prefilter) and OUTSIDE (a host file: let through), while
// a SIGALRM handler installed without SA_RESTART fires every 200 us. Prints
// "eintr=E errors=R mismatch=M rounds=K alarms=yes": a path call on a regular file never fails
// with EINTR natively, and every read must return the file's own first byte.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static int rounds;
static const char* paths[2];
static char first[2];
static atomic_long eintr, errors, mismatch, done, alarms;

static void on_alarm(int sig) {
  (void)sig;
  atomic_fetch_add(&alarms, 1);
}

static void count(long r) {
  if (r >= 0) return;
  if (errno == EINTR) {
    atomic_fetch_add(&eintr, 1);
  } else {
    atomic_fetch_add(&errors, 1);
  }
}

static void* work(void* arg) {
  (void)arg;
  for (int i = 0; i < rounds; ++i) {
    for (int k = 0; k < 2; ++k) {
      struct stat st;
      count(stat(paths[k], &st));
      char dir[4096], base[4096];
      snprintf(dir, sizeof dir, "%s", paths[k]);
      snprintf(base, sizeof base, "%s", paths[k]);
      int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
      count(dfd);
      if (dfd >= 0) {
        count(fstatat(dfd, basename(base), &st, 0));
        close(dfd);
      }
      int fd = open(paths[k], O_RDONLY);
      count(fd);
      if (fd >= 0) {
        char c = 0;
        ssize_t n = read(fd, &c, 1);
        count(n);
        if (n == 1 && c != first[k]) atomic_fetch_add(&mismatch, 1);
        close(fd);
      }
      char link[64];
      errno = EINVAL;  // readlink of a regular file: EINVAL, expected
      if (readlink(paths[k], link, sizeof link) >= 0 || errno != EINVAL) count(-1);
    }
    atomic_fetch_add(&done, 1);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: vfs_prefilter_signals N INSIDE OUTSIDE\n");
    return 2;
  }
  rounds = atoi(argv[1]);
  paths[0] = argv[2];
  paths[1] = argv[3];
  for (int k = 0; k < 2; ++k) {
    int fd = open(paths[k], O_RDONLY);
    if (fd < 0 || read(fd, &first[k], 1) != 1) {
      perror(paths[k]);
      return 1;
    }
    close(fd);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;  // no SA_RESTART
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &it, NULL);
  enum { kThreads = 4 };
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; ++i) pthread_create(&t[i], NULL, work, NULL);
  for (int i = 0; i < kThreads; ++i) pthread_join(t[i], NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("eintr=%ld errors=%ld mismatch=%ld rounds=%ld alarms=%s\n", atomic_load(&eintr),
         atomic_load(&errors), atomic_load(&mismatch), atomic_load(&done),
         atomic_load(&alarms) > 0 ? "yes" : "no");
  return 0;
}
