/* Prints "ready", waits for one of INT QUIT TERM HUP USR1 USR2, prints "got NAME" and exits 0. */
#define _GNU_SOURCE /* sigabbrev_np */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void Handler(int sig) { got = sig; }

int main(void) {
  static const int kSigs[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
  sigset_t block, old;
  sigemptyset(&block);
  for (size_t i = 0; i < sizeof kSigs / sizeof kSigs[0]; ++i) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = Handler;
    sigaction(kSigs[i], &sa, NULL);
    sigaddset(&block, kSigs[i]);
  }
  sigprocmask(SIG_BLOCK, &block, &old);
  printf("ready\n");
  fflush(stdout);
  while (!got) sigsuspend(&old);
  printf("got %s\n", sigabbrev_np(got));
  return 0;
}
