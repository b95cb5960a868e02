/*
 * Fuzz target: a libvirt status file (/run/libvirt/qemu/NAME.xml):
 * <domstatus state= pid=> with a <monitor> and the running <domain>.  A
 * parsed one has a name and a pid that is positive or none.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disc_vm vm = { 0 };
	struct qc_error *err = NULL;
	int rc = discover_parse_status((const char *)data, size, "fuzz-status.xml", &vm, &err);

	if (rc == 0) {
		if (err || !vm.name || !*vm.name || vm.pid < 0 || !(vm.sources & DISC_SRC_STATUS))
			abort();
	} else if (!err) {
		abort();
	}
	qc_error_free(err);
	discover_vm_clear(&vm);
	return 0;
}
