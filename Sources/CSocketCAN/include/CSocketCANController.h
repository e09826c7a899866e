/*
 * CSocketCAN, CAN controllers: the state, error counters, bitrate and restart of a real
 * CAN controller (netlink kind "can": SJA1000, PCAN, Kvaser, ...) through libsocketcan
 * (Debian libsocketcan-dev; runtime libsocketcan2).
 *
 * libsocketcan prints to stderr and may return -1 without setting errno; these wrappers
 * first ask the kernel (one RTM_GETLINK) what the interface is and which attributes it
 * reports, so that a vcan, a missing attribute or a missing right is told apart without
 * a line on stderr, and they report a result code plus the failing call and its errno.
 */
#ifndef SPAAK_CSOCKETCAN_CONTROLLER_H
#define SPAAK_CSOCKETCAN_CONTROLLER_H

#include <stdint.h>

/** What a controller call answered. */
typedef enum spaak_can_ctl_result {
    SPAAK_CAN_CTL_OK = 0,
    SPAAK_CAN_CTL_NO_INTERFACE = 1,   /* no interface of this name */
    SPAAK_CAN_CTL_NOT_CAN = 2,        /* an interface, but not CAN (type != ARPHRD_CAN) */
    SPAAK_CAN_CTL_NOT_CONTROLLER = 3, /* a CAN interface without a controller (vcan, vxcan) */
    SPAAK_CAN_CTL_PERMISSION = 4,     /* no CAP_NET_ADMIN (EPERM) */
    SPAAK_CAN_CTL_FAILED = 5,         /* `operation` failed; `saved_errno` 0 when it set none */
    SPAAK_CAN_CTL_NOT_BUS_OFF = 6,    /* restart: the controller is not bus-off */
    SPAAK_CAN_CTL_AUTO_RESTART = 7    /* restart: the kernel restarts it (restart-ms > 0) */
} spaak_can_ctl_result;

/** Where a failure happened: the call's name (a static string) and its errno (0: none set). */
typedef struct spaak_can_ctl_error {
    const char *operation;
    int saved_errno;
} spaak_can_ctl_error;

/** What one RTM_GETLINK says about an interface. */
typedef struct spaak_can_link_probe {
    int ifindex;
    int link_type;        /* ARPHRD_* (280: CAN) */
    int is_controller;    /* link kind "can" with CAN data (IFLA_INFO_DATA) */
    int has_state;        /* IFLA_CAN_STATE */
    int has_berr_counter; /* IFLA_CAN_BERR_COUNTER (the driver reads its counters) */
    int has_bittiming;    /* IFLA_CAN_BITTIMING (a bitrate is set) */
    int has_restart_ms;   /* IFLA_CAN_RESTART_MS */
    int has_xstats;       /* IFLA_INFO_XSTATS (struct can_device_stats) */
    char kind[16];        /* IFLA_INFO_KIND ("can", "vcan", ...; empty when none) */
} spaak_can_link_probe;

/**
 * Asks the kernel about `ifname`. Returns SPAAK_CAN_CTL_OK (whatever the interface is),
 * SPAAK_CAN_CTL_NO_INTERFACE, or SPAAK_CAN_CTL_FAILED with `error`.
 */
int spaak_can_link_query(const char *ifname, spaak_can_link_probe *probe, spaak_can_ctl_error *error);

/** A controller's status; fields whose `has_` flag is 0 are 0. */
typedef struct spaak_can_controller_status {
    int state;             /* enum can_state: 0 active, 1 warning, 2 passive, 3 bus-off, 4 stopped, 5 sleeping */
    uint32_t tx_errors;    /* TEC */
    uint32_t rx_errors;    /* REC */
    int has_berr_counter;
    uint32_t bitrate;      /* 0: none set */
    uint32_t restart_ms;
    int has_restart_ms;
    uint32_t bus_off;      /* the kernel's struct can_device_stats */
    uint32_t error_passive;
    uint32_t error_warning;
    uint32_t restarts;
    int has_stats;
} spaak_can_controller_status;

/**
 * Reads the status of the controller `ifname` (can_get_state, can_get_berr_counter,
 * can_get_bittiming, can_get_restart_ms, can_get_device_stats). Needs no rights.
 * Returns SPAAK_CAN_CTL_OK, NO_INTERFACE, NOT_CAN, NOT_CONTROLLER or FAILED.
 */
int spaak_can_controller_read(const char *ifname, spaak_can_controller_status *status, spaak_can_ctl_error *error);

/**
 * Sets the controller up: can_do_stop, can_set_bitrate, can_set_restart_ms (when
 * `set_restart_ms` is non-zero), can_do_start. Needs CAP_NET_ADMIN. After a failure
 * past the stop, the interface is started again with whatever settings it kept (the
 * result stays the failure). Returns OK, NO_INTERFACE, NOT_CAN, NOT_CONTROLLER,
 * PERMISSION or FAILED.
 */
int spaak_can_controller_configure(const char *ifname, uint32_t bitrate, int set_restart_ms, uint32_t restart_ms,
                                   spaak_can_ctl_error *error);

/**
 * Restarts a bus-off controller whose automatic restart is off (can_do_restart). Needs
 * CAP_NET_ADMIN. Returns OK, NO_INTERFACE, NOT_CAN, NOT_CONTROLLER, PERMISSION,
 * NOT_BUS_OFF, AUTO_RESTART or FAILED.
 */
int spaak_can_controller_restart(const char *ifname, spaak_can_ctl_error *error);

/** Whether the process has CAP_NET_ADMIN in its effective set: 1, 0, or -1 unknown. */
int spaak_has_net_admin(void);

#endif
