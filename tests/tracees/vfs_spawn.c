/* posix_spawn(3)s argv[1] with argv[1..] (glibc: clone with CLONE_VM|CLONE_VFORK) and prints how
 * it ended, or the spawn error. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid;
  fflush(stdout);
  int r = posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ);
  if (r != 0) {
    printf("spawn: %s\n", strerrorname_np(r));
    return 3;
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return 4;
  printf("spawned status=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  return 0;
}
