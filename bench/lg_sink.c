/*
 * lg sink: the server end of every scenario. An accept thread hands connections round-robin to
 * worker threads, each running its own epoll loop (no thread per connection, so 10,000 idle
 * connections cost no threads). Per connection, the first byte picks the behaviour:
 *   'S' + 8-byte big-endian length: read and discard; ack 'A' every 16 MiB and 'F' at the length.
 *   'E': echo everything back.
 */
#include "lg.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)

typedef struct {
  int fd, ep;
  char mode;            /* 0 until the first byte */
  unsigned char hdr[8]; /* sink length, big-endian */
  int hdr_have, final_sent;
  uint64_t expect, got, next_ack;
  char *out;            /* pending output (echo data or acks) */
  size_t out_len, out_off, out_cap;
} conn;

static void conn_close(conn *c) {
  epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->out);
  free(c);
}

static void queue(conn *c, const char *p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    c->out_cap = (c->out_len + n) * 2;
    c->out = realloc(c->out, c->out_cap);
    if (!c->out) die("out of memory");
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

/* Tries to send pending output; waits for EPOLLOUT (not reading meanwhile) if it cannot. -1 = close. */
static int flush(conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    if (w <= 0) return -1;
    c->out_off += (size_t)w;
  }
  int pending = c->out_off < c->out_len;
  if (!pending) c->out_off = c->out_len = 0;
  struct epoll_event ev = {.events = pending ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev);
  return 0;
}

static void consume(conn *c, const char *p, size_t n) {
  if (n && !c->mode) {
    c->mode = *p++;
    n--;
  }
  if (c->mode == 'E') {
    queue(c, p, n);
    return;
  }
  while (n && c->hdr_have < 8) {
    c->hdr[c->hdr_have++] = (unsigned char)*p++;
    n--;
    if (c->hdr_have == 8) {
      for (int i = 0; i < 8; i++) c->expect = (c->expect << 8) | c->hdr[i];
      c->next_ack = ACK_EVERY;
    }
  }
  if (c->hdr_have < 8) return;
  c->got += n;
  while (c->next_ack <= c->got && c->next_ack <= c->expect) {
    queue(c, "A", 1);
    c->next_ack += ACK_EVERY;
  }
  if (!c->final_sent && c->got >= c->expect) {
    queue(c, "F", 1);
    c->final_sent = 1;
  }
}

static void *worker(void *arg) {
  int ep = (int)(intptr_t)arg;
  char *buf = malloc(BUFSZ);
  struct epoll_event evs[256];
  if (!buf) die("out of memory");
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT) {
        if (flush(c)) conn_close(c);
        continue;
      }
      ssize_t r = recv(c->fd, buf, BUFSZ, 0);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        conn_close(c);
        continue;
      }
      if (c->mode == 0 && buf[0] != 'S' && buf[0] != 'E') {
        conn_close(c);
        continue;
      }
      consume(c, buf, (size_t)r);
      if (c->out_len && flush(c)) conn_close(c);
    }
  }
  return NULL;
}

int mode_sink(const opts *o) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (const struct sockaddr *)&o->listen, sizeof o->listen) || listen(lfd, 4096))
    die("sink: cannot listen on %s:%d: %s", inet_ntoa(o->listen.sin_addr), ntohs(o->listen.sin_port),
        strerror(errno));
  int nw = o->threads, *eps = calloc((size_t)nw, sizeof *eps);
  for (int i = 0; i < nw; i++) {
    pthread_t t;
    eps[i] = epoll_create1(EPOLL_CLOEXEC);
    if (eps[i] < 0 || pthread_create(&t, NULL, worker, (void *)(intptr_t)eps[i])) die("sink: worker setup failed");
  }
  struct sockaddr_in bound = o->listen;
  socklen_t blen = sizeof bound;
  getsockname(lfd, (struct sockaddr *)&bound, &blen); /* the real port when --listen asked for 0 */
  printf("{\"mode\":\"sink\",\"listening\":\"%s:%d\"}\n", inet_ntoa(bound.sin_addr), ntohs(bound.sin_port));
  fflush(stdout);
  int warned = 0;
  for (unsigned next = 0;; next++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        if (!warned++) fprintf(stderr, "lg sink: accept: %s (raise the fd limit)\n", strerror(errno));
        usleep(10000);
      }
      continue;
    }
    set_nodelay(fd);
    conn *c = calloc(1, sizeof *c);
    if (!c) die("out of memory");
    c->fd = fd;
    c->ep = eps[next % (unsigned)nw];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev)) {
      close(fd);
      free(c);
    }
  }
}
