/* Pings the umview control channel (syscall 0x3ff0, op 0) and prints the result and errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  errno = 0;
  long r = syscall(0x3ff0, 0L);
  printf("r=%ld errno=%d\n", r, errno);
  return 0;
}
