/*
 * The VM handle without QEMU: what counts as an address, the address
 * policy (own QMP socket, libvirt's monitor, the libvirtd refusal), and
 * the live-or-shut-off decision when nobody listens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "qc_buf.h"
#include "vm.h"

static void test_is_address(void **state)
{
	(void)state;
	assert_true(vm_is_address("/run/vm.qmp"));
	assert_true(vm_is_address("./vm.qmp"));
	assert_true(vm_is_address("unix:vm.qmp"));
	assert_true(vm_is_address("tcp:127.0.0.1:4444"));
	assert_false(vm_is_address("vm.qmp"));
	assert_false(vm_is_address("guest1"));
	assert_false(vm_is_address("1234"));
}

static void test_policy(void **state)
{
	struct disc_list list = { 0 };
	struct disc_vm vm = { .name = "g", .pid = 42 };
	struct qc_error *err = NULL;
	char *addr;

	(void)state;
	vm.qmp = "/q.qmp";
	vm.monitor = "/m.monitor";
	list.libvirtd_running = true;
	addr = vm_policy_address(&list, &vm, &err); /* its own socket first, libvirtd or not */
	assert_string_equal(addr, "/q.qmp");
	free(addr);

	vm.qmp = NULL;
	list.libvirtd_running = false;
	addr = vm_policy_address(&list, &vm, &err);
	assert_string_equal(addr, "/m.monitor");
	free(addr);

	list.libvirtd_running = true;
	assert_null(vm_policy_address(&list, &vm, &err));
	assert_non_null(strstr(err->msg, "libvirtd holds while it runs"));
	qc_error_free(err);
	err = NULL;

	vm.monitor = NULL;
	vm.pid = 0;
	vm.state = DISC_STATE_SHUTOFF;
	assert_null(vm_policy_address(&list, &vm, &err));
	assert_string_equal(err->msg, "VM 'g' is shut off");
	qc_error_free(err);
}

static void test_resolve_address(void **state)
{
	struct vm_opts o = { .timeout_ms = 1000 };
	struct qmp_vm vm;
	struct qc_error *err = NULL;

	(void)state;
	assert_int_equal(vm_resolve(&vm, &o, "/no/such.qmp", &err), 0);
	assert_string_equal(vm.addr, "/no/such.qmp");
	assert_null(vm.disc);
	assert_string_equal(vm_name(&vm), "/no/such.qmp");
	vm_clear(&vm);

	/* -s stands for the VM: the name is not looked up. */
	o.socket = "unix:/s.qmp";
	assert_int_equal(vm_resolve(&vm, &o, NULL, &err), 0);
	assert_string_equal(vm.addr, "unix:/s.qmp");
	vm_clear(&vm);
}

static void test_resolve_unknown(void **state)
{
	char dir[] = "/tmp/qmpctl-test-vm.XXXXXX";
	struct vm_opts o = { .timeout_ms = 1000 };
	struct qmp_vm vm;
	struct qc_error *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	o.libvirt_dir = o.run_dir = dir;
	assert_int_equal(vm_resolve(&vm, &o, "no-such-vm-qmpctl-test", &err), -1);
	assert_non_null(strstr(err->msg, "no VM named 'no-such-vm-qmpctl-test'"));
	qc_error_free(err);
	vm_clear(&vm);
	rmdir(dir);
}

/* A handle as vm_resolve leaves it for a VM discovery found. */
static void fake_vm(struct qmp_vm *vm, unsigned sources, enum disc_state st, const char *addr)
{
	memset(vm, 0, sizeof(*vm));
	vm->opts.timeout_ms = 1000;
	vm->list.vms = qc_calloc(1, sizeof(*vm->list.vms));
	vm->list.n = 1;
	vm->disc = &vm->list.vms[0];
	vm->disc->name = qc_strdup("g");
	vm->disc->sources = sources;
	vm->disc->state = st;
	if (addr)
		vm->addr = qc_strdup(addr);
	else
		qc_error_set(&vm->no_addr, "VM 'g' has no QMP socket");
}

static void test_open(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp_vm vm;
	struct qc_error *err = NULL;

	(void)state;
	/* Shut off with no address: offline. */
	fake_vm(&vm, DISC_SRC_XML, DISC_STATE_SHUTOFF, NULL);
	assert_int_equal(vm_open(&vm, base, &err), 0);
	assert_int_equal(vm.mode, VM_SHUTOFF);
	assert_null(vm.s);
	vm_clear(&vm);

	/* Not shut off and no address: the policy's reason. */
	fake_vm(&vm, DISC_SRC_PROC, DISC_STATE_UNKNOWN, NULL);
	assert_int_equal(vm_open(&vm, base, &err), -1);
	assert_string_equal(err->msg, "VM 'g' has no QMP socket");
	qc_error_free(err);
	err = NULL;
	vm_clear(&vm);

	/* Nobody listens and only its XML knows it: shut off. */
	fake_vm(&vm, DISC_SRC_XML, DISC_STATE_UNKNOWN, "/nonexistent/qmpctl-test.qmp");
	assert_int_equal(vm_open(&vm, base, &err), 0);
	assert_int_equal(vm.mode, VM_SHUTOFF);
	vm_clear(&vm);

	/* A process is there: not listening is an error, not "shut off". */
	fake_vm(&vm, DISC_SRC_XML | DISC_SRC_PROC, DISC_STATE_UNKNOWN, "/nonexistent/qmpctl-test.qmp");
	assert_int_equal(vm_open(&vm, base, &err), -1);
	assert_non_null(strstr(err->msg, "cannot connect"));
	qc_error_free(err);
	err = NULL;
	vm_clear(&vm);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_address),  cmocka_unit_test(test_policy), cmocka_unit_test(test_resolve_address),
		cmocka_unit_test(test_resolve_unknown), cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
