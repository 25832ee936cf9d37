/* lg: the benchmark load generator and sink/echo server. Shared declarations. */
#ifndef LG_H
#define LG_H
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* The sink acknowledges every ACK_EVERY payload bytes with 'A' and the last byte with 'F'. */
#define ACK_EVERY (16ull << 20)

typedef struct {
  struct sockaddr_in listen;  /* sink */
  struct sockaddr_in target;  /* client modes: the sink/echo server */
  struct sockaddr_in socks;   /* optional SOCKS5 hop */
  int has_listen, has_target, has_socks;
  int conns;                  /* tput, latency, idle: connections; connrate: parallel clients */
  uint64_t bytes;             /* tput: total bytes, split across conns */
  double seconds;             /* pingpong, connrate, latency: measured duration */
  double warmup;              /* latency, pingpong: discarded warm-up */
  double rate;                /* latency: requests per second, total */
  int size;                   /* latency: request = response size */
  double max_seconds;         /* tput: give up after this long (reports what was acked) */
  int threads;                /* sink: worker threads; idle: opener threads */
} opts;

/* lg.c */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double now_s(void);
uint64_t now_ns(void);
void sleep_until_ns(uint64_t t);
void raise_nofile(void);
int cmp_u64(const void *a, const void *b);
/* p in [0,100] of a sorted array; 0 when empty. */
uint64_t pct(const uint64_t *sorted, size_t n, double p);

/* lg_net.c */
/* Connects to o->target (through o->socks when set), TCP_NODELAY on, 10 s I/O timeouts.
 * Returns the fd, or -1 with a message in err. */
int dial(const opts *o, char *err, size_t errlen);
int write_all(int fd, const void *buf, size_t n);
int read_full(int fd, void *buf, size_t n);
void set_nodelay(int fd);

/* One file per group of modes. Each prints one JSON line on stdout and returns the exit code. */
int mode_sink(const opts *o);
int mode_tput(const opts *o);
int mode_pingpong(const opts *o);
int mode_latency(const opts *o);
int mode_connrate(const opts *o);
int mode_idle(const opts *o);

#endif
