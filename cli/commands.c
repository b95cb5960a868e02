/* The table of verbs. */
#include <string.h>

#include "qmpctl.h"

const struct qc_cmd *const qc_commands[] = {
	&qc_cmd_qmp,
	&qc_cmd_hmp,
	&qc_cmd_events,
	&qc_cmd_list,
	&qc_cmd_disks,
	&qc_cmd_snapshot,
	&qc_cmd_image,
	&qc_cmd_shell,
	&qc_cmd_tap,
	NULL,
};

const struct qc_cmd *qc_command_find(const char *name)
{
	for (size_t i = 0; qc_commands[i]; i++)
		if (!strcmp(qc_commands[i]->name, name))
			return qc_commands[i];
	return NULL;
}
