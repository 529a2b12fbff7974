/* Job control: a child stops itself with SIGSTOP; the parent must see it stopped through
 * waitpid(WUNTRACED), continue it with SIGCONT and then see it exit with status 3. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    raise(SIGSTOP);
    _exit(3);
  }
  int st;
  if (waitpid(pid, &st, WUNTRACED) != pid) return 3;
  int stopped = WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
  kill(pid, SIGCONT);
  if (waitpid(pid, &st, 0) != pid) return 4;
  printf("stopped=%d exited=%d status=%d\n", stopped, WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
