/* execv from a multi-threaded process. Usage: eng_exec_thread [--from-main] PROG ARGS...
 * By default a second thread execs PROG while the main thread waits in pthread_join; with
 * --from-main the main thread execs while a second thread waits in pause(2). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char** g_argv;

static void Exec(void) {
  execv(g_argv[0], g_argv);
  perror("execv");
  _exit(99);
}

static void* ExecThread(void* arg) {
  (void)arg;
  Exec();
  return NULL;
}

static void* PauseThread(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  int from_main = argc > 1 && strcmp(argv[1], "--from-main") == 0;
  if (argc < 2 + from_main) return 2;
  g_argv = argv + 1 + from_main;
  pthread_t t;
  if (pthread_create(&t, NULL, from_main ? PauseThread : ExecThread, NULL) != 0) return 3;
  if (from_main) Exec();
  pthread_join(t, NULL);
  return 98; /* not reached: the exec replaces the whole process */
}
