/* CLONE_FS: threads share the working directory. A thread chdirs to argv[1] and the main thread
 * then sees it (getcwd, and argv[2] opened relative to it); the main thread chdirs to argv[3] and
 * a thread sees that (getcwd, argv[4] opened relative to it). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char** args;

static void Show(const char* who, const char* rel) {
  char cwd[4096];
  char data[256] = "";
  if (getcwd(cwd, sizeof cwd) == NULL) strcpy(cwd, "(getcwd failed)");
  int fd = open(rel, O_RDONLY);
  if (fd >= 0) {
    ssize_t n = read(fd, data, sizeof data - 1);
    if (n > 0) data[n] = 0;
    close(fd);
  } else {
    strcpy(data, "(open failed)");
  }
  data[strcspn(data, "\n")] = 0;
  printf("%s cwd=%s %s=%s\n", who, cwd, rel, data);
}

static void* ChdirThread(void* arg) {
  (void)arg;
  if (chdir(args[1]) != 0) perror("thread chdir");
  return NULL;
}

static void* ShowThread(void* arg) {
  (void)arg;
  Show("thread", args[4]);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 5) return 2;
  args = argv;
  pthread_t t;
  pthread_create(&t, NULL, ChdirThread, NULL);
  pthread_join(t, NULL);
  Show("main", argv[2]);
  if (chdir(argv[3]) != 0) perror("main chdir");
  pthread_create(&t, NULL, ShowThread, NULL);
  pthread_join(t, NULL);
  return 0;
}
