/* The main thread leaves with pthread_exit while a second thread keeps making getppid(2) calls
 * and then ends the process with exit status 3 if all of them returned argv[1], else 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long g_expected;

static void* Run(void* arg) {
  (void)arg;
  long bad = 0;
  for (int i = 0; i < 1000; ++i) {
    if (syscall(SYS_getppid) != g_expected) ++bad;
  }
  exit(bad == 0 ? 3 : 1);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  g_expected = atol(argv[1]);
  pthread_t t;
  if (pthread_create(&t, NULL, Run, NULL) != 0) return 4;
  pthread_exit(NULL);
}
