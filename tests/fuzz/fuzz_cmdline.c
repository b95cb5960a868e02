/*
 * Fuzz target: the QEMU command-line parser of discovery.  It reads the
 * argv of any local process named qemu-system-*, so any user on the host
 * chooses its input.  The input is that argv as /proc/PID/cmdline holds it:
 * NUL-separated words.  Whatever it holds, every disk has a target, device
 * and type, and the QMP socket found alone is the one the full parse finds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "discover_cmdline.h"

#define MAX_ARGS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), **argv = malloc((MAX_ARGS + 1) * sizeof(*argv));
	struct disc_vm vm = { 0 };
	int argc = 0;
	char *qmp;

	memcpy(buf, data, size);
	buf[size] = '\0';
	/* As discover.c splits /proc/PID/cmdline: the last word may lack its NUL. */
	for (size_t off = 0; off < size && argc < MAX_ARGS; off += strlen(buf + off) + 1)
		argv[argc++] = buf + off;
	argv[argc] = NULL;
	if (discover_parse_cmdline(argv, argc, &vm, NULL) != 0)
		abort();
	for (size_t i = 0; i < vm.n_disks; i++)
		if (!vm.disks[i].target || !vm.disks[i].device || !vm.disks[i].type)
			abort();
	qmp = discover_cmdline_qmp(argv, argc);
	if ((qmp == NULL) != (vm.qmp == NULL) || (qmp && strcmp(qmp, vm.qmp)))
		abort();
	free(qmp);
	if (argc > 1) {
		/* The option-string splitter on its own, on one word. */
		free(discover_qemu_opt(argv[1], NULL));
		free(discover_qemu_opt(argv[1], "file"));
	}
	discover_vm_clear(&vm);
	free(argv);
	free(buf);
	return 0;
}
