// Talks to the "defer" test plugin: defer_tool OP A [B]; prints "OP=RESULT" or "OP=-ERRNO".
// For "signal" it catches SIGUSR1 first and also prints whether the handler ran.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void OnUsr1(int sig) {
  (void)sig;
  handled = 1;
}

int main(int argc, char** argv) {
  static const char* ops[] = {"", "wait", "release", "count", "thread", "pipe", "pass", "signal"};
  if (argc < 3) return 2;
  long op = 0;
  for (long i = 1; i < 8; ++i) {
    if (strcmp(argv[1], ops[i]) == 0) op = i;
  }
  if (op == 0) return 2;
  long a = strtol(argv[2], NULL, 0), b = argc > 3 ? strtol(argv[3], NULL, 0) : 0;
  if (op == 7) signal(SIGUSR1, OnUsr1);
  long r = syscall(SYS_getpriority, 0x4d4dL, op, a, b);
  printf("%s=%ld\n", argv[1], r < 0 ? -(long)errno : r);
  if (op == 7) printf("handled=%d\n", (int)handled);
  return 0;
}
