/*
 * netdelay: delay, jitter and loss for the packets of one network namespace, for kernels without
 * sch_netem. iptables sends the namespace's outgoing packets to NFQUEUE <queue>; this program holds
 * each one for delay ± jitter ms (uniform, so packets may be reordered, as netem does with jitter) and
 * then accepts it, or drops it with probability loss.
 *
 *   netdelay <queue> <delay_ms> <jitter_ms> <loss 0..1>
 *
 * Runs until SIGTERM/SIGINT. Test helper only (test/support/netns.ts starts it inside a namespace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HELD 65536

struct held {
  uint64_t release_us;
  uint32_t id;
};

static struct held heap[MAX_HELD];
static int held = 0;
static double delay_ms, jitter_ms, loss;
static volatile sig_atomic_t stop = 0;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void heap_push(struct held h) {
  int i = held++;
  heap[i] = h;
  while (i > 0) {
    int p = (i - 1) / 2;
    if (heap[p].release_us <= heap[i].release_us) break;
    struct held t = heap[p];
    heap[p] = heap[i];
    heap[i] = t;
    i = p;
  }
}

static struct held heap_pop(void) {
  struct held top = heap[0];
  heap[0] = heap[--held];
  int i = 0;
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < held && heap[l].release_us < heap[m].release_us) m = l;
    if (r < held && heap[r].release_us < heap[m].release_us) m = r;
    if (m == i) break;
    struct held t = heap[m];
    heap[m] = heap[i];
    heap[i] = t;
    i = m;
  }
  return top;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if ((double)rand() / RAND_MAX < loss) return nfq_set_verdict(qh, id, NF_DROP, 0, NULL);
  double d = delay_ms + jitter_ms * (2.0 * rand() / RAND_MAX - 1.0);
  if (d <= 0 || held >= MAX_HELD) return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  struct held h = {now_us() + (uint64_t)(d * 1000.0), id};
  heap_push(h);
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: netdelay <queue> <delay_ms> <jitter_ms> <loss>\n");
    return 2;
  }
  int queue = atoi(argv[1]);
  delay_ms = atof(argv[2]);
  jitter_ms = atof(argv[3]);
  loss = atof(argv[4]);
  srand((unsigned)now_us());
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  struct nfq_handle *h = nfq_open();
  if (!h) {
    perror("nfq_open");
    return 1;
  }
  struct nfq_q_handle *qh = nfq_create_queue(h, queue, &on_packet, NULL);
  if (!qh) {
    perror("nfq_create_queue");
    return 1;
  }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
    perror("nfq_set_mode");
    return 1;
  }
  nfq_set_queue_maxlen(qh, MAX_HELD);
  int fd = nfq_fd(h);
  char buf[65536] __attribute__((aligned));
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    uint64_t now = now_us();
    while (held > 0 && heap[0].release_us <= now) {
      struct held p = heap_pop();
      nfq_set_verdict(qh, p.id, NF_ACCEPT, 0, NULL);
    }
    int timeout = held > 0 ? (int)((heap[0].release_us - now + 999) / 1000) : 100;
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = poll(&pfd, 1, timeout);
    if (n > 0) {
      int len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      while (len > 0) {
        nfq_handle_packet(h, buf, len);
        len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      }
    } else if (n < 0 && errno != EINTR)
      break;
  }
  /* Release what is held so no packet is lost on exit. */
  while (held > 0) {
    struct held p = heap_pop();
    nfq_set_verdict(qh, p.id, NF_ACCEPT, 0, NULL);
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
