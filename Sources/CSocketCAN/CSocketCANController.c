/* CSocketCAN, CAN controllers through libsocketcan; see CSocketCANController.h. */
#define _GNU_SOURCE
#include "CSocketCANController.h"

#include <errno.h>
#include <libsocketcan.h>
#include <linux/capability.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(CAN_STATE_BUS_OFF == 3 && CAN_STATE_STOPPED == 4, "enum can_state");

static int failed(spaak_can_ctl_error *error, const char *operation, int code) {
    error->operation = operation;
    error->saved_errno = code;
    return SPAAK_CAN_CTL_FAILED;
}

/* Walks the attributes of one level: sets found[type] for each type below `max`. */
static void index_attributes(struct rtattr *rta, int len, struct rtattr **found, int max) {
    memset(found, 0, sizeof(*found) * (size_t)max);
    for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        unsigned short type = rta->rta_type & ~NLA_F_NESTED;
        if (type < max) found[type] = rta;
    }
}

static void read_probe(struct nlmsghdr *h, spaak_can_link_probe *probe) {
    struct ifinfomsg *ifi = NLMSG_DATA(h);
    probe->link_type = ifi->ifi_type;
    struct rtattr *link[IFLA_MAX + 1];
    index_attributes(IFLA_RTA(ifi), (int)IFLA_PAYLOAD(h), link, IFLA_MAX + 1);
    if (!link[IFLA_LINKINFO]) return;
    struct rtattr *info[IFLA_INFO_MAX + 1];
    index_attributes(RTA_DATA(link[IFLA_LINKINFO]), (int)RTA_PAYLOAD(link[IFLA_LINKINFO]), info, IFLA_INFO_MAX + 1);
    if (info[IFLA_INFO_KIND]) {
        size_t n = RTA_PAYLOAD(info[IFLA_INFO_KIND]);
        if (n >= sizeof probe->kind) n = sizeof probe->kind - 1;
        memcpy(probe->kind, RTA_DATA(info[IFLA_INFO_KIND]), n);
        probe->kind[n] = 0;
    }
    probe->has_xstats = info[IFLA_INFO_XSTATS] != NULL
        && RTA_PAYLOAD(info[IFLA_INFO_XSTATS]) >= sizeof(struct can_device_stats);
    if (strcmp(probe->kind, "can") != 0 || !info[IFLA_INFO_DATA]) return;
    probe->is_controller = probe->link_type == ARPHRD_CAN;
    struct rtattr *can[IFLA_CAN_MAX + 1];
    index_attributes(RTA_DATA(info[IFLA_INFO_DATA]), (int)RTA_PAYLOAD(info[IFLA_INFO_DATA]), can, IFLA_CAN_MAX + 1);
    probe->has_state = can[IFLA_CAN_STATE] != NULL;
    probe->has_berr_counter = can[IFLA_CAN_BERR_COUNTER] != NULL;
    probe->has_bittiming = can[IFLA_CAN_BITTIMING] != NULL;
    probe->has_restart_ms = can[IFLA_CAN_RESTART_MS] != NULL;
}

int spaak_can_link_query(const char *ifname, spaak_can_link_probe *probe, spaak_can_ctl_error *error) {
    memset(probe, 0, sizeof *probe);
    error->operation = NULL;
    error->saved_errno = 0;
    size_t namelen = ifname ? strlen(ifname) : 0;
    unsigned int index = namelen > 0 && namelen < IFNAMSIZ ? if_nametoindex(ifname) : 0;
    if (index == 0) return SPAAK_CAN_CTL_NO_INTERFACE;
    probe->ifindex = (int)index;

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return failed(error, "socket(AF_NETLINK)", errno);
    struct {
        struct nlmsghdr n;
        struct ifinfomsg i;
    } request;
    memset(&request, 0, sizeof request);
    request.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    request.n.nlmsg_type = RTM_GETLINK;
    request.n.nlmsg_flags = NLM_F_REQUEST;
    request.n.nlmsg_seq = 1;
    request.i.ifi_family = AF_UNSPEC;
    request.i.ifi_index = (int)index;
    if (send(fd, &request, request.n.nlmsg_len, 0) < 0) {
        int code = errno;
        close(fd);
        return failed(error, "RTM_GETLINK", code);
    }
    _Alignas(struct nlmsghdr) char buffer[32768];
    ssize_t got;
    do { got = recv(fd, buffer, sizeof buffer, 0); } while (got < 0 && errno == EINTR);
    int code = errno;
    close(fd);
    if (got < 0) return failed(error, "RTM_GETLINK", code);
    size_t left = (size_t)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *err = NLMSG_DATA(h);
            if (err->error == -ENODEV) return SPAAK_CAN_CTL_NO_INTERFACE;
            return failed(error, "RTM_GETLINK", -err->error);
        }
        if (h->nlmsg_type == RTM_NEWLINK) {
            read_probe(h, probe);
            return SPAAK_CAN_CTL_OK;
        }
    }
    return failed(error, "RTM_GETLINK (no answer)", 0);
}

/* The probe, and the verdict for calls that need a controller. */
static int require_controller(const char *ifname, spaak_can_link_probe *probe, spaak_can_ctl_error *error) {
    int rc = spaak_can_link_query(ifname, probe, error);
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    if (probe->link_type != ARPHRD_CAN) return SPAAK_CAN_CTL_NOT_CAN;
    if (!probe->is_controller) return SPAAK_CAN_CTL_NOT_CONTROLLER;
    return SPAAK_CAN_CTL_OK;
}

/* Runs one libsocketcan call, which may fail without setting errno. */
#define SOCKETCAN_CALL(error, call, name)                                           \
    do {                                                                            \
        errno = 0;                                                                  \
        if ((call) < 0) {                                                           \
            int code_ = errno;                                                      \
            if (code_ == EPERM || code_ == EACCES) {                                \
                (error)->operation = (name);                                        \
                (error)->saved_errno = code_;                                       \
                return SPAAK_CAN_CTL_PERMISSION;                                    \
            }                                                                       \
            return failed((error), (name), code_);                                  \
        }                                                                           \
    } while (0)

int spaak_can_controller_read(const char *ifname, spaak_can_controller_status *status, spaak_can_ctl_error *error) {
    memset(status, 0, sizeof *status);
    spaak_can_link_probe probe;
    int rc = require_controller(ifname, &probe, error);
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    if (!probe.has_state) return failed(error, "can_get_state (the driver reports no state)", 0);
    int state = 0;
    SOCKETCAN_CALL(error, can_get_state(ifname, &state), "can_get_state");
    status->state = state;
    if (probe.has_berr_counter) {
        struct can_berr_counter counter;
        memset(&counter, 0, sizeof counter);
        SOCKETCAN_CALL(error, can_get_berr_counter(ifname, &counter), "can_get_berr_counter");
        status->tx_errors = counter.txerr;
        status->rx_errors = counter.rxerr;
        status->has_berr_counter = 1;
    }
    if (probe.has_bittiming) {
        struct can_bittiming timing;
        memset(&timing, 0, sizeof timing);
        SOCKETCAN_CALL(error, can_get_bittiming(ifname, &timing), "can_get_bittiming");
        status->bitrate = timing.bitrate;
    }
    if (probe.has_restart_ms) {
        __u32 restart_ms = 0;
        SOCKETCAN_CALL(error, can_get_restart_ms(ifname, &restart_ms), "can_get_restart_ms");
        status->restart_ms = restart_ms;
        status->has_restart_ms = 1;
    }
    if (probe.has_xstats) {
        struct can_device_stats stats;
        memset(&stats, 0, sizeof stats);
        SOCKETCAN_CALL(error, can_get_device_stats(ifname, &stats), "can_get_device_stats");
        status->bus_off = stats.bus_off;
        status->error_passive = stats.error_passive;
        status->error_warning = stats.error_warning;
        status->restarts = stats.restarts;
        status->has_stats = 1;
    }
    return SPAAK_CAN_CTL_OK;
}

int spaak_has_net_admin(void) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof data);
    int saved = errno;
    long rc = syscall(SYS_capget, &header, data);
    errno = saved;
    if (rc != 0) return -1;
    return (data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}

/* Fails early, without libsocketcan's "RTNETLINK answers" on stderr, when the right is missing. */
static int require_net_admin(spaak_can_ctl_error *error, const char *operation) {
    if (spaak_has_net_admin() != 0) return SPAAK_CAN_CTL_OK;
    error->operation = operation;
    error->saved_errno = EPERM;
    return SPAAK_CAN_CTL_PERMISSION;
}

static int configure_stopped(const char *ifname, uint32_t bitrate, int set_restart_ms, uint32_t restart_ms,
                             spaak_can_ctl_error *error) {
    SOCKETCAN_CALL(error, can_set_bitrate(ifname, bitrate), "can_set_bitrate");
    if (set_restart_ms) SOCKETCAN_CALL(error, can_set_restart_ms(ifname, restart_ms), "can_set_restart_ms");
    SOCKETCAN_CALL(error, can_do_start(ifname), "can_do_start");
    return SPAAK_CAN_CTL_OK;
}

int spaak_can_controller_configure(const char *ifname, uint32_t bitrate, int set_restart_ms, uint32_t restart_ms,
                                   spaak_can_ctl_error *error) {
    spaak_can_link_probe probe;
    int rc = require_controller(ifname, &probe, error);
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    rc = require_net_admin(error, "can_do_stop");
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    SOCKETCAN_CALL(error, can_do_stop(ifname), "can_do_stop");
    rc = configure_stopped(ifname, bitrate, set_restart_ms, restart_ms, error);
    if (rc != SPAAK_CAN_CTL_OK) {
        int saved = errno;
        (void)can_do_start(ifname);
        errno = saved;
    }
    return rc;
}

int spaak_can_controller_restart(const char *ifname, spaak_can_ctl_error *error) {
    spaak_can_controller_status status;
    int rc = spaak_can_controller_read(ifname, &status, error);
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    if (status.state != CAN_STATE_BUS_OFF) return SPAAK_CAN_CTL_NOT_BUS_OFF;
    if (status.has_restart_ms && status.restart_ms > 0) return SPAAK_CAN_CTL_AUTO_RESTART;
    rc = require_net_admin(error, "can_do_restart");
    if (rc != SPAAK_CAN_CTL_OK) return rc;
    SOCKETCAN_CALL(error, can_do_restart(ifname), "can_do_restart");
    return SPAAK_CAN_CTL_OK;
}
