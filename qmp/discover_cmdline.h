/*
 * discover_cmdline: the QEMU command-line parser of discovery, used for
 * running processes (/proc/PID/cmdline) and for the <qemu:commandline>
 * arguments of libvirt domain files.  Pure functions over strings; the
 * types are discover.h's.
 */
#ifndef DISCOVER_CMDLINE_H
#define DISCOVER_CMDLINE_H

#include "discover.h"

/* Fills *vm (zeroed by the caller, freed with discover_vm_clear) from a
 * QEMU argv as in /proc/PID/cmdline: -name, -uuid, the QMP socket QEMU
 * listens on (-qmp, or -chardev with a mode=control -mon) and the disks
 * (-drive, -blockdev in both spellings).  argv[0] is not looked at. */
int discover_parse_cmdline(char *const argv[], int argc, struct disc_vm *vm, struct qc_error **errp);

/* Only the QMP socket those arguments make QEMU listen on, newly
 * allocated, or NULL. */
char *discover_cmdline_qmp(char *const argv[], int argc);

/* QEMU option strings: splits "a=b,c=d" honouring ",," as an escaped comma.
 * Returns the value of key (newly allocated) or NULL.  A first element
 * without '=' is returned for key == NULL ("socket" in "socket,id=x"). */
char *discover_qemu_opt(const char *opts, const char *key);

#endif
