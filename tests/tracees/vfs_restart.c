// open() of a FIFO blocks until a writer comes; a SIGALRM with SA_RESTART interrupts it first,
// so the kernel restarts the open with the arguments it had. Prints "opened" or the errno.
// usage: vfs_restart FIFO
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int alarms;
static void OnAlarm(int sig) {
  (void)sig;
  ++alarms;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  pid_t writer = fork();
  if (writer == 0) {
    sleep(2);  // after the alarm has interrupted the reader's open
    int fd = open(argv[1], O_WRONLY);
    if (fd >= 0) close(fd);
    _exit(fd >= 0 ? 0 : 1);
  }
  alarm(1);
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    printf("errno %d alarms %d\n", errno, alarms);
  } else {
    printf("opened alarms %d\n", alarms);
    close(fd);
  }
  int st;
  waitpid(writer, &st, 0);
  return 0;
}
