/* Stats PATH, drops to user and group nobody (65534) with raw system calls in this very thread,
 * stats PATH again, then forks a child (a thread whose first call comes with the new ids) that
 * stats PATH and OTHER. Usage (as root): vfs_drop_ids PATH OTHER. Prints "before=ERRNO
 * after=ERRNO child=ERRNO child_other=ERRNO", 0 for a stat that succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int stat_errno(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? 0 : errno;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  int before = stat_errno(argv[1]);
  /* Raw calls: glibc's setuid() would signal every thread; there is only this one. */
  if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
      syscall(SYS_setresuid, 65534, 65534, 65534) != 0) {
    perror("dropping ids");
    return 3;
  }
  int after = stat_errno(argv[1]);
  int fds[2];
  if (pipe(fds) != 0) return 4;
  pid_t pid = fork();
  if (pid < 0) return 5;
  if (pid == 0) {
    int r[2] = {stat_errno(argv[1]), stat_errno(argv[2])};
    _exit(write(fds[1], r, sizeof r) == sizeof r ? 0 : 1);
  }
  int r[2] = {-1, -1};
  if (read(fds[0], r, sizeof r) != sizeof r) return 6;
  waitpid(pid, NULL, 0);
  printf("before=%d after=%d child=%d child_other=%d\n", before, after, r[0], r[1]);
  return 0;
}
