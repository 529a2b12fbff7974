// Exercises one umdev block device through every descriptor entry point and prints what it saw:
//   umdev_io DEVICE   (opened read-write; the device should be at least 4 KiB)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/hdreg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

static const char* Err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* dev = argv[1];
  struct stat st;
  if (stat(dev, &st) != 0) return perror("stat"), 1;
  printf("stat blk=%d %u:%u size=%lld\n", S_ISBLK(st.st_mode), major(st.st_rdev), minor(st.st_rdev),
         (long long)st.st_size);
  struct statx sx;
  if (statx(AT_FDCWD, dev, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0) return 1;
  printf("statx blk=%d %u:%u\n", S_ISBLK(sx.stx_mode), sx.stx_rdev_major, sx.stx_rdev_minor);
  printf("access rw=%s x=%s\n", Err(access(dev, R_OK | W_OK)), Err(access(dev, X_OK)));
  printf("open excl=%s dir=%s\n", Err(open(dev, O_RDWR | O_CREAT | O_EXCL, 0600)),
         Err(open(dev, O_RDONLY | O_DIRECTORY)));

  int fd = open(dev, O_RDWR);
  if (fd < 0) return perror("open"), 1;
  struct stat fst;
  fstat(fd, &fst);
  printf("fstat same=%d\n", fst.st_rdev == st.st_rdev && fst.st_mode == st.st_mode);
  uint64_t size64 = 0;
  unsigned long sectors = 0;
  int ssz = 0, ro = -1;
  unsigned int pbsz = 0;
  ioctl(fd, BLKGETSIZE64, &size64);
  ioctl(fd, BLKGETSIZE, &sectors);
  ioctl(fd, BLKSSZGET, &ssz);
  ioctl(fd, BLKPBSZGET, &pbsz);
  ioctl(fd, BLKROGET, &ro);
  printf("ioctl size64=%llu sectors=%lu ssz=%d pbsz=%u ro=%d\n", (unsigned long long)size64,
         sectors, ssz, pbsz, ro);
  struct hd_geometry geo;
  const char* geo_err = Err(ioctl(fd, HDIO_GETGEO, &geo));
  printf("geo=%s heads=%d sectors=%d\n", geo_err, geo.heads, geo.sectors);
  printf("flsbuf=%s bogus=%s\n", Err(ioctl(fd, BLKFLSBUF, 0)), Err(ioctl(fd, 0x12345678, 0)));
  off_t end = lseek(fd, 0, SEEK_END);
  printf("seek_end=%s\n", end == (off_t)size64 ? "size" : "wrong");
  printf("seek_past=%s\n", Err(lseek(fd, 1, SEEK_END)));
  printf("short_pwrite=%zd\n", pwrite(fd, "hello", 5, end - 3));
  lseek(fd, 0, SEEK_END);
  printf("write_end=%s\n", Err(write(fd, "x", 1)));
  char buf[16] = {0};
  printf("pread_end=%zd\n", pread(fd, buf, sizeof buf, end));
  ssize_t tail = pread(fd, buf, sizeof buf, end - 3);
  printf("pread_tail=%zd %.3s\n", tail, buf);
  struct iovec wv[2] = {{"abc", 3}, {"defg", 4}};
  lseek(fd, 100, SEEK_SET);
  ssize_t wn = writev(fd, wv, 2);
  printf("writev=%zd pos=%lld\n", wn, (long long)lseek(fd, 0, SEEK_CUR));
  char a[2], b[5] = {0};
  struct iovec rv[2] = {{a, 2}, {b, 5}};
  lseek(fd, 100, SEEK_SET);
  ssize_t rn = readv(fd, rv, 2);
  printf("readv=%zd %.2s|%.5s\n", rn, a, b);
  printf("fsync=%s\n", Err(fsync(fd)));
  void* m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  printf("mmap=%s\n", m == MAP_FAILED ? strerrorname_np(errno) : "mapped");
  close(fd);
  int rfd = open(dev, O_RDONLY);
  printf("write_rdonly=%s\n", Err(write(rfd, "x", 1)));
  close(rfd);
  char below[4096];
  snprintf(below, sizeof below, "%s/x", dev);
  printf("below=%s readlink=%s\n", Err(open(below, O_RDONLY)),
         Err(readlink(dev, below, sizeof below)));
  return 0;
}
