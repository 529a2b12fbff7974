/* Calls getppid(2) then getpid(2) (raw syscalls) and prints both results with their errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  errno = 0;
  long a = syscall(SYS_getppid);
  int ea = errno;
  errno = 0;
  long b = syscall(SYS_getpid);
  int eb = errno;
  printf("first=%ld errno=%d second=%ld errno=%d\n", a, ea, b, eb);
  return 0;
}
