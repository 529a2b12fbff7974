/* Prints what getppid(2) returned (raw syscall) and errno, and umview's pid; exits with argv[1]. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  errno = 0;
  long r = syscall(SYS_getppid);
  int e = errno;
  const char* upid = getenv("UMVIEW_PID");
  printf("ppid=%ld errno=%d umview_pid=%s\n", r, e, upid ? upid : "none");
  return argc > 1 ? atoi(argv[1]) : 0;
}
