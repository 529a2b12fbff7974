/* A call that waits on a FUSE program and gets a signal: SIGALRM arrives while the call waits
 * for a file (argv[1]) whose reads never end unless interrupted. Prints, for each case, the
 * call's result and errno and whether the handler ran:
 *   read: read(2) of the file opened O_RDWR (a virtual descriptor), handler without SA_RESTART;
 *   read-restart: the same with SA_RESTART (kernel FUSE fails it with EINTR all the same);
 *   open: open(2) O_RDONLY, which reads the whole file before it returns. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void OnAlarm(int sig) {
  (void)sig;
  handled = 1;
}

static void Arm(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  handled = 0;
  struct itimerval it = {{0, 0}, {0, 200000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void Show(const char* what, long rc, int err) {
  printf("%s %ld %s handled=%d\n", what, rc, rc < 0 ? strerror(err) : "-", (int)handled);
  fflush(stdout);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  char buf[64];
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    perror("open O_RDWR");
    return 1;
  }
  Arm(0);
  long n = read(fd, buf, sizeof buf);
  Show("read", n, errno);
  Arm(SA_RESTART);
  n = read(fd, buf, sizeof buf);
  Show("read-restart", n, errno);
  close(fd);
  Arm(0);
  int fd2 = open(argv[1], O_RDONLY);
  Show("open", fd2, errno);
  return 0;
}
