/*
 * Fuzz target: a libvirt domain file (/etc/libvirt/qemu/NAME.xml), read by
 * discovery from a directory other users may write to.  A parsed domain has
 * a name and complete disks; a refused one says why.
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
	int rc = discover_parse_domain((const char *)data, size, "fuzz.xml", &vm, &err);

	if (rc == 0) {
		if (err || !vm.name || !*vm.name)
			abort();
		for (size_t i = 0; i < vm.n_disks; i++)
			if (!vm.disks[i].target || !vm.disks[i].device || !vm.disks[i].type)
				abort();
	} else if (!err) {
		abort();
	}
	qc_error_free(err);
	discover_vm_clear(&vm);
	return 0;
}
