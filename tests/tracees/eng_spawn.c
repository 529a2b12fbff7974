/* posix_spawn(3)s argv[1] with argv[1..] (glibc: clone with CLONE_VM|CLONE_VFORK), waits for it
 * and prints how it ended. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid;
  int r = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
  if (r != 0) {
    printf("spawn: %s\n", strerror(r));
    return 3;
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return 4;
  printf("spawned exited=%d status=%d\n", WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
