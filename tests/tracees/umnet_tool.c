// A small network tool for the umnet tests; prints what each call returned, as the program saw it.
//   socket inet|inet6|packet|unix|netlink     "socket ok" / "socket EAFNOSUPPORT"
//   connect ADDR PORT                          "connect ok" / "connect ENETUNREACH"
//   sendto|sendmsg|sendmmsg ADDR PORT          UDP datagram "x": "sendto ok" / errno name
//   sendto-unspec ADDR PORT                    the same with sa_family AF_UNSPEC (IPv4 only)
//   bind ADDR PORT [udp]                       "bind ok ADDR:PORT" (getsockname) / errno name
//   serve ADDR PORT TOKEN                      listen, print "listening ADDR:PORT", accept one
//                                              client: print its address, send TOKEN
//   fetch ADDR PORT                            connect, print "peer=..." and "got=DATA"
//   pair PORT TOKEN DIR N                      listen on 127.0.0.1:PORT, create DIR/ready.N, wait
//                                              for DIR/ready.0 and DIR/ready.1 (DIR "-": no wait),
//                                              then a child connects to 127.0.0.1:PORT and prints
//                                              what the server sent ("got=TOKEN")
//   connect-probe ADDR PORT LPORT              non-blocking connect to ADDR:PORT, then print the
//                                              socket's local port ("local port 0": the kernel
//                                              never started it) and connect the same socket to
//                                              127.0.0.1:LPORT ("then ok"; EALREADY had a SYN left)
//   sendto-probe ADDR PORT                     UDP sendto, then the socket's local port (a datagram
//                                              the kernel saw would have bound one)
// The tests only ever name loopback addresses, or TEST-NET addresses the view must refuse.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* Err(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E?";
}

// ADDR PORT -> sockaddr; returns its length, 0 for a bad address.
static socklen_t Addr(const char* a, const char* p, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
  if (inet_pton(AF_INET, a, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(atoi(p));
    return sizeof *in;
  }
  if (inet_pton(AF_INET6, a, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(atoi(p));
    return sizeof *in6;
  }
  return 0;
}

static const char* Show(const struct sockaddr_storage* ss) {
  static char buf[2][80];
  static int k;
  char* out = buf[k++ & 1];
  char a[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
    snprintf(out, 80, "%s:%d", a, ntohs(in->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
    snprintf(out, 80, "[%s]:%d", a, ntohs(in6->sin6_port));
  } else {
    snprintf(out, 80, "family%d", ss->ss_family);
  }
  return out;
}

static const char* Name(int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(fd, (struct sockaddr*)&ss, &len)
               : getsockname(fd, (struct sockaddr*)&ss, &len);
  return r == 0 ? Show(&ss) : Err(errno);
}

static int Listen(const char* a, const char* p) {
  struct sockaddr_storage ss;
  socklen_t len = Addr(a, p, &ss);
  int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s < 0 || bind(s, (struct sockaddr*)&ss, len) != 0 || listen(s, 8) != 0) {
    printf("listen %s\n", Err(errno));
    exit(1);
  }
  return s;
}

static void Fetch(const char* a, const char* p) {
  struct sockaddr_storage ss;
  socklen_t len = Addr(a, p, &ss);
  int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(s, (struct sockaddr*)&ss, len) != 0) {
    printf("connect %s\n", Err(errno));
    exit(1);
  }
  printf("peer=%s\n", Name(s, 1));
  char buf[256];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(s, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  buf[n] = 0;
  printf("got=%s\n", buf);
  close(s);
}

static void ServeOne(int l, const char* token) {
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  int c = accept(l, (struct sockaddr*)&peer, &len);
  if (c < 0) {
    printf("accept %s\n", Err(errno));
    exit(1);
  }
  printf("accepted peer=%s local=%s\n", Show(&peer), Name(c, 0));
  fflush(stdout);
  (void)!write(c, token, strlen(token));
  close(c);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);  // a refused peer's connection is shut down under the server
  if (argc < 2) return 2;
  const char* cmd = argv[1];
  if (!strcmp(cmd, "socket") && argc == 3) {
    int f = !strcmp(argv[2], "inet")     ? AF_INET
            : !strcmp(argv[2], "inet6")  ? AF_INET6
            : !strcmp(argv[2], "packet") ? AF_PACKET
            : !strcmp(argv[2], "unix")   ? AF_UNIX
                                         : AF_NETLINK;
    int type = f == AF_PACKET ? SOCK_DGRAM : f == AF_NETLINK ? SOCK_RAW : SOCK_STREAM;
    int s = socket(f, type, 0);
    if (s >= 0) {
      printf("socket ok\n");
    } else {
      printf("socket %s\n", Err(errno));
    }
    return 0;
  }
  if (!strcmp(cmd, "connect") && argc == 4) {
    struct sockaddr_storage ss;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    // Non-blocking: EINPROGRESS would mean a SYN left, which the tests treat as a failure.
    int r = connect(s, (struct sockaddr*)&ss, len);
    printf("connect %s\n", r == 0 ? "ok" : Err(errno));
    return 0;
  }
  if (!strcmp(cmd, "connect-probe") && argc == 5) {
    struct sockaddr_storage ss, lo;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    socklen_t lolen = Addr("127.0.0.1", argv[4], &lo);
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int r = connect(s, (struct sockaddr*)&ss, len);
    printf("connect %s\n", r == 0 ? "ok" : Err(errno));
    printf("local %s\n", Name(s, 0));
    int flags = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, flags & ~O_NONBLOCK);
    r = connect(s, (struct sockaddr*)&lo, lolen);
    printf("then %s\n", r == 0 ? "ok" : Err(errno));
    return 0;
  }
  if (!strcmp(cmd, "sendto-probe") && argc == 4) {
    struct sockaddr_storage ss;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    int s = socket(ss.ss_family, SOCK_DGRAM, 0);
    long r = sendto(s, "x", 1, 0, (struct sockaddr*)&ss, len);
    printf("sendto %s\n", r >= 0 ? "ok" : Err(errno));
    printf("local %s\n", Name(s, 0));
    return 0;
  }
  if (!strcmp(cmd, "sendto-unspec") && argc == 4) {
    // The kernel's compatibility reading: AF_UNSPEC on a UDP socket means AF_INET.
    struct sockaddr_storage ss;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    ss.ss_family = AF_UNSPEC;
    long r = sendto(s, "x", 1, 0, (struct sockaddr*)&ss, len);
    printf("sendto %s\n", r >= 0 ? "ok" : Err(errno));
    return 0;
  }
  if ((!strcmp(cmd, "sendto") || !strcmp(cmd, "sendmsg") || !strcmp(cmd, "sendmmsg")) &&
      argc == 4) {
    struct sockaddr_storage ss;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    int s = socket(ss.ss_family, SOCK_DGRAM, 0);
    struct iovec iov = {"x", 1};
    struct msghdr m = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
    long r;
    if (!strcmp(cmd, "sendto")) {
      r = sendto(s, "x", 1, 0, (struct sockaddr*)&ss, len);
    } else if (!strcmp(cmd, "sendmsg")) {
      r = sendmsg(s, &m, 0);
    } else {
      struct mmsghdr mm[2] = {{.msg_hdr = m}, {.msg_hdr = m}};
      r = sendmmsg(s, mm, 2, 0);
      if (r > 0) printf("sent %ld len0=%u\n", r, mm[0].msg_len);
    }
    printf("%s %s\n", cmd, r >= 0 ? "ok" : Err(errno));
    return 0;
  }
  if (!strcmp(cmd, "bind") && argc >= 4) {
    struct sockaddr_storage ss;
    socklen_t len = Addr(argv[2], argv[3], &ss);
    int udp = argc > 4 && !strcmp(argv[4], "udp");
    int s = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (bind(s, (struct sockaddr*)&ss, len) != 0) {
      printf("bind %s\n", Err(errno));
    } else {
      printf("bind ok %s\n", Name(s, 0));
    }
    return 0;
  }
  if (!strcmp(cmd, "serve") && argc == 5) {
    int l = Listen(argv[2], argv[3]);
    printf("listening %s\n", Name(l, 0));
    fflush(stdout);
    ServeOne(l, argv[4]);
    return 0;
  }
  if (!strcmp(cmd, "fetch") && argc == 4) {
    Fetch(argv[2], argv[3]);
    return 0;
  }
  if (!strcmp(cmd, "pair") && argc == 6) {
    int l = Listen("127.0.0.1", argv[2]);
    printf("listening %s\n", Name(l, 0));
    if (strcmp(argv[4], "-") != 0) {
      char path[4096];
      snprintf(path, sizeof path, "%s/ready.%s", argv[4], argv[5]);
      close(open(path, O_CREAT | O_WRONLY, 0644));
      for (int i = 0; i < 2000; ++i) {  // 20 s
        struct stat st;
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/ready.0", argv[4]);
        snprintf(b, sizeof b, "%s/ready.1", argv[4]);
        if (stat(a, &st) == 0 && stat(b, &st) == 0) break;
        usleep(10000);
      }
    }
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
      Fetch("127.0.0.1", argv[2]);
      _exit(0);
    }
    ServeOne(l, argv[3]);
    int st;
    waitpid(child, &st, 0);
    return 0;
  }
  fprintf(stderr, "umnet_tool: bad arguments\n");
  return 2;
}
