/* Calls getppid N times (argv[1]) and prints how each call ended: "ok" or the errno name,
 * with a count ("ok 3000", "EIO 1"). Used with the faulty test plugin. Writes its pid to
 * argv[2] first, if given; with argv[3], first forks a child that sleeps and writes the
 * child's pid there. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 3) {
    pid_t c = fork();
    if (c == 0) {
      for (;;) pause();
    }
    FILE* f = fopen(argv[3], "w");
    if (f) {
      fprintf(f, "%d\n", c);
      fclose(f);
    }
  }
  if (argc > 2) {
    FILE* f = fopen(argv[2], "w");
    if (f) {
      fprintf(f, "%d\n", getpid());
      fclose(f);
    }
  }
  int ok = 0, last_err = 0, errs = 0;
  for (int i = 0; i < n; ++i) {
    long r = syscall(SYS_getppid);
    if (r >= 0) {
      ++ok;
    } else {
      ++errs;
      last_err = errno;
    }
  }
  if (ok) printf("ok %d\n", ok);
  if (errs) printf("%s %d\n", strerrorname_np(last_err), errs);
  return 0;
}
