// Ends the qemu guest with a verdict: writes CODE to the isa-debug-exit port (0xf4); qemu then
// exits with (CODE << 1) | 1. Usage: guest-exit CODE
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>
#include <sys/reboot.h>

int main(int argc, char** argv) {
  int code = argc > 1 ? atoi(argv[1]) : 1;
  if (ioperm(0xf4, 4, 1) != 0) {
    perror("ioperm");
    return 1;
  }
  outl(code, 0xf4);
  reboot(RB_POWER_OFF);  // not reached with isa-debug-exit
  return 1;
}
