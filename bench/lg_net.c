/* lg: dialing (optionally through SOCKS5) and blocking I/O helpers. */
#include "lg.h"

#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* 0 on success; -1 with errno set (0 = EOF). */
int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) errno = 0;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int fail(int fd, char *err, size_t len, const char *what) {
  snprintf(err, len, "%s: %s", what, errno ? strerror(errno) : "connection closed");
  close(fd);
  return -1;
}

static int socks5(int fd, const opts *o, char *err, size_t len) {
  unsigned char hello[3] = {5, 1, 0}, got[4];
  if (write_all(fd, hello, 3) || read_full(fd, got, 2)) return fail(fd, err, len, "socks5 greeting");
  if (got[0] != 5 || got[1] != 0) {
    snprintf(err, len, "socks5: server chose method %u (version %u), want no-auth", got[1], got[0]);
    close(fd);
    return -1;
  }
  unsigned char req[10] = {5, 1, 0, 1};
  memcpy(req + 4, &o->target.sin_addr, 4);
  memcpy(req + 8, &o->target.sin_port, 2);
  if (write_all(fd, req, sizeof req) || read_full(fd, got, 4)) return fail(fd, err, len, "socks5 connect");
  if (got[0] != 5 || got[1] != 0) {
    snprintf(err, len, "socks5: CONNECT refused, reply code %u", got[1]);
    close(fd);
    return -1;
  }
  unsigned char rest[258];
  size_t need = got[3] == 1 ? 6 : got[3] == 4 ? 18 : 0;
  if (got[3] == 3) {
    if (read_full(fd, rest, 1)) return fail(fd, err, len, "socks5 reply");
    need = (size_t)rest[0] + 2;
  }
  if (need == 0) {
    snprintf(err, len, "socks5: bad address type %u in reply", got[3]);
    close(fd);
    return -1;
  }
  if (read_full(fd, rest, need)) return fail(fd, err, len, "socks5 reply");
  return fd;
}

int dial(const opts *o, char *err, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, len, "socket: %s", strerror(errno));
    return -1;
  }
  set_nodelay(fd);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const struct sockaddr_in *first = o->has_socks ? &o->socks : &o->target;
  if (connect(fd, (const struct sockaddr *)first, sizeof *first) != 0)
    return fail(fd, err, len, o->has_socks ? "connect to socks5 proxy" : "connect");
  return o->has_socks ? socks5(fd, o, err, len) : fd;
}
