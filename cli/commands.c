/*
 * The table of verbs: one line each, in the order --help lists them.  A
 * group (snapshot, image) stands before its sub-verbs.  X() declares the
 * entry and puts it in the table, so a new verb's file needs no header.
 */
#include "qmpctl.h"

#define QC_VERBS(X) \
	X(qc_cmd_qmp) \
	X(qc_cmd_hmp) \
	X(qc_cmd_events) \
	X(qc_cmd_list) \
	X(qc_cmd_disks) \
	X(qc_cmd_dominfo) \
	X(qc_cmd_domstate) \
	X(qc_cmd_suspend) \
	X(qc_cmd_resume) \
	X(qc_cmd_reset) \
	X(qc_cmd_shutdown) \
	X(qc_cmd_reboot) \
	X(qc_cmd_destroy) \
	X(qc_cmd_domblkinfo) \
	X(qc_cmd_domblkstat) \
	X(qc_cmd_domjobinfo) \
	X(qc_cmd_snapshot) \
	X(qc_cmd_snapshot_create) \
	X(qc_cmd_snapshot_list) \
	X(qc_cmd_snapshot_info) \
	X(qc_cmd_snapshot_revert) \
	X(qc_cmd_snapshot_delete) \
	X(qc_cmd_image) \
	X(qc_cmd_image_info) \
	X(qc_cmd_image_create) \
	X(qc_cmd_image_convert) \
	X(qc_cmd_image_snapshot) \
	X(qc_cmd_shell) \
	X(qc_cmd_tap) \
	X(qc_cmd_complete)

#define QC_EXTERN(cmd) extern const struct qc_cmd cmd;
#define QC_ENTRY(cmd) &cmd,

QC_VERBS(QC_EXTERN)

const struct qc_cmd *const qc_commands[] = { QC_VERBS(QC_ENTRY) NULL };
