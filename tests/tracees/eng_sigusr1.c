/* Installs a SIGUSR1 handler, raises SIGUSR1 and prints how many times the handler ran. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t g_count;

static void Handler(int sig) {
  if (sig == SIGUSR1) ++g_count;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Handler;
  if (sigaction(SIGUSR1, &sa, NULL) != 0) return 2;
  if (raise(SIGUSR1) != 0) return 3;
  printf("handled=%d\n", (int)g_count);
  return g_count == 1 ? 0 : 1;
}
