/*
 * The layering of discovery: the command-line parser stands alone, and the
 * XML parsers need only it.  This program is linked from those two source
 * files and qc_common, without the rest of qc_qmp, so a call from either
 * back into discover.c (the merge, discover_vm_clear) fails to link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discover.h"
#include "discover_cmdline.h"

/* discover_vm_clear is discover.c's: this program frees by hand. */
static void vm_free(struct disc_vm *vm)
{
	free(vm->name);
	free(vm->uuid);
	free(vm->qmp);
	free(vm->monitor);
	free(vm->state_detail);
	free(vm->xml_path);
	for (size_t i = 0; i < vm->n_disks; i++) {
		struct disc_disk *d = &vm->disks[i];

		free(d->target);
		free(d->device);
		free(d->type);
		free(d->format);
		free(d->source);
		free(d->node);
		free(d->alias);
		for (size_t k = 0; k < d->n_backing; k++) {
			free(d->backing[k].type);
			free(d->backing[k].format);
			free(d->backing[k].source);
			free(d->backing[k].node);
		}
		free(d->backing);
	}
	free(vm->disks);
	memset(vm, 0, sizeof(*vm));
}

static void test_cmdline_alone(void **state)
{
	char *argv[] = { "qemu-system-x86_64",
			 "-name",
			 "guest=alone",
			 "-uuid",
			 "0a0b0c0d-1111-4222-8333-444455556666",
			 "-qmp",
			 "unix:/run/alone.qmp,server=on,wait=off",
			 "-drive",
			 "file=/img/a.qcow2,format=qcow2",
			 NULL };
	struct disc_vm vm = { 0 };
	char *qmp;

	(void)state;
	assert_int_equal(discover_parse_cmdline(argv, 9, &vm, NULL), 0);
	assert_string_equal(vm.name, "alone");
	assert_string_equal(vm.uuid, "0a0b0c0d-1111-4222-8333-444455556666");
	assert_string_equal(vm.qmp, "/run/alone.qmp");
	assert_int_equal(vm.n_disks, 1);
	assert_string_equal(vm.disks[0].source, "/img/a.qcow2");
	vm_free(&vm);
	qmp = discover_cmdline_qmp(argv, 9);
	assert_string_equal(qmp, "/run/alone.qmp");
	free(qmp);
}

static void test_xml_with_cmdline(void **state)
{
	static const char doc[] =
		"<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
		"  <name>layered</name>\n"
		"  <devices><disk type='file' device='disk'><source file='/img/l.qcow2'/><target dev='vda'/></disk>"
		"</devices>\n"
		"  <qemu:commandline><qemu:arg value='-qmp'/>"
		"<qemu:arg value='unix:/run/layered.qmp,server=on,wait=off'/></qemu:commandline>\n"
		"</domain>\n";
	struct disc_vm vm = { 0 };
	struct qc_error *err = NULL;

	(void)state;
	assert_int_equal(discover_parse_domain(doc, sizeof(doc) - 1, "layered.xml", &vm, &err), 0);
	assert_null(err);
	assert_string_equal(vm.name, "layered");
	assert_string_equal(vm.qmp, "/run/layered.qmp");
	assert_int_equal(vm.n_disks, 1);
	vm_free(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmdline_alone),
		cmocka_unit_test(test_xml_with_cmdline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
