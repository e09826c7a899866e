/* CSocketCAN: thin wrappers over SocketCAN, timerfd and signalfd; see CSocketCAN.h. */
#define _GNU_SOURCE
#include "CSocketCAN.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct can_frame) == 16, "can_frame is 16 bytes");
_Static_assert(sizeof(struct canfd_frame) == 72, "canfd_frame is 72 bytes");
_Static_assert(CAN_RAW_FILTER == 1 && CAN_RAW_FD_FRAMES == 5 && SOL_CAN_RAW == 101, "raw options");
_Static_assert(PF_CAN == 29 && CANFD_FDF == 0x04 && CANFD_BRS == 0x01, "CAN constants");

/* Runs one interface ioctl on a throw-away datagram socket (any family reaches dev_ioctl). */
static int interface_ioctl(const char *ifname, unsigned long request, struct ifreq *ifr) {
    static const int families[] = { AF_INET, AF_UNIX };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        int s = socket(families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) continue;
        memset(ifr, 0, sizeof *ifr);
        strncpy(ifr->ifr_name, ifname, IFNAMSIZ - 1);
        int rc = ioctl(s, request, ifr);
        int saved = errno;
        close(s);
        errno = saved;
        if (rc == 0) return 0;
    }
    return -1;
}

void spaak_can_interface_state(const char *ifname, int *mtu, int *is_up) {
    struct ifreq ifr;
    int saved = errno;
    *mtu = interface_ioctl(ifname, SIOCGIFMTU, &ifr) == 0 ? ifr.ifr_mtu : -1;
    *is_up = interface_ioctl(ifname, SIOCGIFFLAGS, &ifr) == 0 ? ((ifr.ifr_flags & IFF_UP) != 0) : -1;
    errno = saved;
}

static int fail(int fd, spaak_can_open_info *info, int step) {
    int saved = errno;
    if (fd >= 0) close(fd);
    info->failed_step = step;
    info->saved_errno = saved;
    errno = saved;
    return -1;
}

int spaak_can_open(const char *ifname, int fd_frames, spaak_can_open_info *info) {
    info->failed_step = SPAAK_CAN_OPEN_OK;
    info->saved_errno = 0;
    info->ifindex = -1;
    info->mtu = -1;
    info->is_up = -1;

    int fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0) return fail(-1, info, SPAAK_CAN_OPEN_SOCKET);

    size_t namelen = ifname ? strlen(ifname) : 0;
    if (namelen == 0 || namelen >= IFNAMSIZ) {
        errno = EINVAL;
        return fail(fd, info, SPAAK_CAN_OPEN_NAME);
    }
    unsigned int index = if_nametoindex(ifname);
    if (index == 0) return fail(fd, info, SPAAK_CAN_OPEN_IFINDEX);
    info->ifindex = (int)index;
    spaak_can_interface_state(ifname, &info->mtu, &info->is_up);

    if (fd_frames) {
        int on = 1;
        if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof on) != 0)
            return fail(fd, info, SPAAK_CAN_OPEN_FD_FRAMES);
    }

    struct sockaddr_can addr;
    memset(&addr, 0, sizeof addr);
    addr.can_family = AF_CAN;
    addr.can_ifindex = (int)index;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return fail(fd, info, SPAAK_CAN_OPEN_BIND);

    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return fail(fd, info, SPAAK_CAN_OPEN_NONBLOCK);
    return fd;
}

int spaak_can_set_filters(int fd, const uint32_t *ids, const uint8_t *extended, int count) {
    if (count < 0 || count > CAN_RAW_FILTER_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct can_filter filters[CAN_RAW_FILTER_MAX];
    for (int i = 0; i < count; i++) {
        if (extended[i]) {
            filters[i].can_id = (ids[i] & CAN_EFF_MASK) | CAN_EFF_FLAG;
            filters[i].can_mask = CAN_EFF_MASK | CAN_EFF_FLAG | CAN_RTR_FLAG;
        } else {
            filters[i].can_id = ids[i] & CAN_SFF_MASK;
            filters[i].can_mask = CAN_SFF_MASK | CAN_EFF_FLAG | CAN_RTR_FLAG;
        }
    }
    return setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, count > 0 ? filters : NULL,
                      (socklen_t)(sizeof(struct can_filter) * (size_t)count));
}

int spaak_can_accept_all(int fd) {
    struct can_filter all = { .can_id = 0, .can_mask = 0 };
    return setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, &all, sizeof all);
}

int spaak_can_read(int fd, struct canfd_frame *frame) {
    ssize_t n = read(fd, frame, sizeof *frame);
    return n < 0 ? -1 : (int)n;
}

int spaak_can_read_batch(int fd, struct canfd_frame *frames, int *sizes, unsigned int max) {
    return spaak_can_read_batch_stamped(fd, frames, sizes, NULL, NULL, max);
}

int spaak_can_enable_receive_info(int fd) {
    int on = 1;
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) rc = -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0) rc = -1;
    return rc;
}

static uint64_t timespec_ns(const struct timespec *ts) {
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

int spaak_can_read_batch_stamped(int fd, struct canfd_frame *frames, int *sizes, uint64_t *stamps_ns,
                                 uint32_t *dropped, unsigned int max) {
    enum { CHUNK = 64, CONTROL = CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t)) };
    struct mmsghdr msgs[CHUNK];
    struct iovec iovs[CHUNK];
    _Alignas(struct cmsghdr) unsigned char control[CHUNK][CONTROL];
    unsigned int total = 0;
    while (total < max) {
        unsigned int n = max - total < CHUNK ? max - total : CHUNK;
        memset(msgs, 0, sizeof(struct mmsghdr) * n);
        for (unsigned int i = 0; i < n; i++) {
            iovs[i].iov_base = &frames[total + i];
            iovs[i].iov_len = sizeof(struct canfd_frame);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = control[i];
            msgs[i].msg_hdr.msg_controllen = CONTROL;
        }
        int got = recvmmsg(fd, msgs, n, MSG_DONTWAIT, NULL);
        if (got < 0) return total > 0 ? (int)total : -1;
        /* SO_TIMESTAMPNS stamps with CLOCK_REALTIME: carried over to CLOCK_MONOTONIC by the
           offset between the two clocks now (a stamp "in the future" becomes now). */
        struct timespec real_now, mono_now;
        clock_gettime(CLOCK_REALTIME, &real_now);
        clock_gettime(CLOCK_MONOTONIC, &mono_now);
        uint64_t real = timespec_ns(&real_now), mono = timespec_ns(&mono_now);
        for (int i = 0; i < got; i++) {
            unsigned int k = total + (unsigned)i;
            sizes[k] = (int)msgs[i].msg_len;
            if (stamps_ns != NULL) stamps_ns[k] = 0;
            struct msghdr *h = &msgs[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
                if (c->cmsg_level != SOL_SOCKET) continue;
                if (c->cmsg_type == SCM_TIMESTAMPNS && stamps_ns != NULL
                    && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    uint64_t at = timespec_ns(&ts);
                    uint64_t age = real > at ? real - at : 0;
                    stamps_ns[k] = age < mono ? mono - age : 1;
                } else if (c->cmsg_type == SO_RXQ_OVFL && dropped != NULL
                           && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
                    memcpy(dropped, CMSG_DATA(c), sizeof *dropped);
                }
            }
        }
        total += (unsigned)got;
        if ((unsigned)got < n) break;
    }
    return (int)total;
}

int spaak_can_write(int fd, const struct canfd_frame *frame, int size) {
    if (size != CAN_MTU && size != CANFD_MTU) {
        errno = EINVAL;
        return -1;
    }
    ssize_t n = write(fd, frame, (size_t)size);
    return n < 0 ? -1 : (int)n;
}

int spaak_can_write_batch(int fd, const struct canfd_frame *frames, const int *sizes, unsigned int count) {
    enum { MAX = 64 };
    if (count > MAX) count = MAX;
    if (count == 0) return 0;
    struct mmsghdr msgs[MAX];
    struct iovec iovs[MAX];
    memset(msgs, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        if (sizes[i] != CAN_MTU && sizes[i] != CANFD_MTU) {
            if (i == 0) {
                errno = EINVAL;
                return -1;
            }
            count = i;
            break;
        }
        iovs[i].iov_base = (void *)&frames[i];
        iovs[i].iov_len = (size_t)sizes[i];
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    return sendmmsg(fd, msgs, count, MSG_DONTWAIT);
}

int spaak_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int spaak_timerfd_arm(int fd, uint64_t deadline_ns) {
    if (deadline_ns == 0) deadline_ns = 1;
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000ULL);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int spaak_timerfd_disarm(int fd) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    return timerfd_settime(fd, 0, &spec, NULL);
}

uint64_t spaak_timerfd_consume(int fd) {
    uint64_t expirations = 0;
    ssize_t n = read(fd, &expirations, sizeof expirations);
    return n == (ssize_t)sizeof expirations ? expirations : 0;
}

uint64_t spaak_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int spaak_signalfd_open(const int *signals, int count, sigset_t *old) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, old) != 0) return -1;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        pthread_sigmask(SIG_SETMASK, old, NULL);
        errno = saved;
    }
    return fd;
}

void spaak_signal_mask_restore(const sigset_t *old) {
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int spaak_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}
