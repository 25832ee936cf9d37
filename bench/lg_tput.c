/*
 * lg tput: --bytes in total, split over --conns parallel connections, one way to the sink.
 * The clock starts when every connection is open and stops at the last 'F' ack (so bytes in
 * flight inside proxies are not counted as delivered). After --max-seconds a connection stops;
 * it then counts only the bytes confirmed by 'A' acks (16 MiB each), up to its last ack.
 */
#include "lg.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

typedef struct {
  const opts *o;
  uint64_t bytes, confirmed, t_confirm;
  int finished;
  char err[160];
} flow;

static pthread_barrier_t start_line;
static uint64_t t_start;
static char payload[CHUNK];

static void run_flow(flow *f, int fd) {
  unsigned char hdr[9] = {'S'};
  for (int i = 0; i < 8; i++) hdr[1 + i] = (unsigned char)(f->bytes >> (56 - 8 * i));
  if (write_all(fd, hdr, sizeof hdr)) {
    snprintf(f->err, sizeof f->err, "send header: %s", strerror(errno));
    return;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  uint64_t left = f->bytes, deadline = t_start + (uint64_t)(f->o->max_seconds * 1e9);
  while (!f->finished) {
    struct pollfd p = {.fd = fd, .events = POLLIN | (left ? POLLOUT : 0)};
    uint64_t now = now_ns();
    if (now >= deadline) {
      snprintf(f->err, sizeof f->err, "stopped after --max-seconds %.0f", f->o->max_seconds);
      return;
    }
    int pr = poll(&p, 1, (int)((deadline - now) / 1000000 + 1));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) break;
    if (p.revents & POLLIN) {
      char acks[64];
      ssize_t r = recv(fd, acks, sizeof acks, 0);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        snprintf(f->err, sizeof f->err, "connection lost: %s", r ? strerror(errno) : "closed by peer");
        return;
      }
      for (ssize_t i = 0; i < r; i++) {
        if (acks[i] == 'A' && f->confirmed + ACK_EVERY <= f->bytes) f->confirmed += ACK_EVERY;
        if (acks[i] == 'F') f->confirmed = f->bytes, f->finished = 1;
        f->t_confirm = now_ns();
      }
    } else if (p.revents & (POLLERR | POLLHUP)) {
      snprintf(f->err, sizeof f->err, "connection lost while sending");
      return;
    }
    if (left && (p.revents & POLLOUT)) {
      ssize_t w = send(fd, payload, left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
      if (w > 0) left -= (uint64_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        snprintf(f->err, sizeof f->err, "send: %s", strerror(errno));
        return;
      }
    }
  }
}

static void *flow_main(void *arg) {
  flow *f = arg;
  int fd = dial(f->o, f->err, sizeof f->err);
  pthread_barrier_wait(&start_line);
  pthread_barrier_wait(&start_line); /* main has taken t_start */
  if (fd >= 0) {
    run_flow(f, fd);
    close(fd);
  }
  return NULL;
}

int mode_tput(const opts *o) {
  int n = o->conns;
  flow *fs = calloc((size_t)n, sizeof *fs);
  pthread_t *ts = calloc((size_t)n, sizeof *ts);
  memset(payload, 'x', sizeof payload);
  pthread_barrier_init(&start_line, NULL, (unsigned)n + 1);
  for (int i = 0; i < n; i++) {
    fs[i].o = o;
    fs[i].bytes = o->bytes / (uint64_t)n + (i == 0 ? o->bytes % (uint64_t)n : 0);
    if (pthread_create(&ts[i], NULL, flow_main, &fs[i])) die("tput: pthread_create failed");
  }
  pthread_barrier_wait(&start_line);
  t_start = now_ns();
  pthread_barrier_wait(&start_line);
  uint64_t total = 0, t_end = t_start;
  int finished = 0;
  const char *err = NULL;
  for (int i = 0; i < n; i++) {
    pthread_join(ts[i], NULL);
    total += fs[i].confirmed;
    if (fs[i].t_confirm > t_end) t_end = fs[i].t_confirm;
    finished += fs[i].finished;
    if (!fs[i].finished && !err) err = fs[i].err[0] ? fs[i].err : "unfinished";
  }
  double secs = (double)(t_end - t_start) / 1e9;
  printf("{\"mode\":\"tput\",\"conns\":%d,\"bytes\":%llu,\"confirmed\":%llu,\"seconds\":%.6f,\"mbps\":%.2f,"
         "\"complete\":%s,\"error\":\"%s\"}\n",
         n, (unsigned long long)o->bytes, (unsigned long long)total, secs, secs > 0 ? (double)total / 1e6 / secs : 0,
         finished == n ? "true" : "false", err ? err : "");
  return total > 0 ? 0 : 1;
}
