/* Prints "ready" and then waits in pause(2) until a signal ends it. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
