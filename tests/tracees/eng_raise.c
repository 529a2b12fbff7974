/* Sends itself the signal numbered argv[1] with kill(2); exits 1 if it survives. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  kill(getpid(), atoi(argv[1]));
  return 1;
}
