/*
 * qmpctl shell: qmp-shell's language on a terminal, or a script on stdin.
 *
 * On a terminal, libedit's readline-compatible callback interface runs on
 * our event loop: the loop watches stdin and hands each byte to libedit, so
 * replies and events can be printed the moment they arrive.  They are
 * written above the line being typed (which is erased, then redrawn
 * intact).  Command names for completion come from query-commands, argument
 * names from query-qmp-schema, both fetched in the background at start.
 *
 * Without a terminal, each line is one command run to completion before the
 * next; each reply is printed as one JSON line.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "qc_buf.h"
#include "qmp_args.h"
#include "qmp_schema.h"
#include "qmp_sync.h"
#include "qmpctl.h"

static const char usage[] =
	"Usage: qmpctl shell [OPTIONS] VM\n"
	"\n"
	"An interactive QMP shell (qmp-shell's syntax), or a script runner when stdin is\n"
	"not a terminal.\n"
	"\n"
	"Each line is 'COMMAND key=value ...' (dotted keys nest: a.b=1; values that parse\n"
	"as JSON are JSON, anything else a string), a JSON object such as\n"
	"{\"execute\": \"query-status\"}, or 'hmp COMMAND-LINE' for a human monitor command.\n"
	"\n"
	"On a terminal: line editing, history (kept in $XDG_STATE_HOME/qmpctl/history,\n"
	"or ~/.local/state/qmpctl/history), Tab completes command names, argument names\n"
	"and values (from QEMU's schema) and HMP commands, events are printed as they\n"
	"arrive.  Ctrl-C drops the line being typed; Ctrl-D or 'exit' ends the shell\n"
	"('quit' is QMP's quit: it ends QEMU).\n"
	"\n"
	"From a script: one reply per command as a JSON line ({\"return\": ...} or\n"
	"{\"error\": ...}, a line that does not parse too); errors are also reported on\n"
	"stderr.  'exit' ends the script.  The script stops at the first failing command\n"
	"unless --keep-going; exit status 1 if any failed.\n"
	"\n"
	"  -H, --hmp           every line is a human monitor (HMP) command\n"
	"  -k, --keep-going    script mode: go on after a failed command\n"
	"      --json          print replies as QEMU sent them (compact JSON)\n"
	"  -s, --socket PATH   QMP socket (then VM is left out)\n"
	"  -t, --timeout SEC   give up on a reply after SEC seconds (default 30)\n"
	"  -v, --verbose       show every QMP message sent and received\n"
	"  -h, --help          show this help\n"
	"\n"
	"Examples:\n"
	"  qmpctl shell /run/vm.qmp\n"
	"  printf 'stop\\nquery-status\\ncont\\n' | qmpctl shell /run/vm.qmp\n";

#define HISTORY_MAX 1000
#define PROMPT_QMP  "(QEMU) "
#define PROMPT_HMP  "(HMP) "

/* Names for completion, each once. */
struct words {
	char **v;
	size_t n;
};

struct shell_opts {
	bool hmp;
	bool keep_going;
};

struct shell {
	struct qc_ctx *ctx;
	const struct shell_opts *o;
	struct qmp_session *s;
	/* interactive */
	bool tty;
	bool prompt_on; /* libedit's line is on the screen */
	bool done;
	bool leaving; /* Ctrl-D: done once pending replies are printed */
	struct event *stdin_ev;
	char *history;
	unsigned pending; /* commands sent, reply not yet printed */
	struct qc_error *fatal;
	/* completion */
	struct words commands;	   /* QMP commands */
	struct words hmp, info;	   /* HMP commands, "info" subcommands */
	struct qmp_schema *schema; /* NULL: no argument completion */
};

/* libedit's callbacks take no context. */
static struct shell *the_shell;

static int own_opt(void *opaque, int opt, const char *arg)
{
	struct shell_opts *o = opaque;

	(void)arg;
	switch (opt) {
	case 'H':
		o->hmp = true;
		return 0;
	case 'k':
		o->keep_going = true;
		return 0;
	}
	return 1;
}

/* ---- building a command from a line ------------------------------------- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "hmp info status" (or any line with -H) -> human-monitor-command. */
static const char *hmp_line(const struct shell *sh, const char *line)
{
	if (sh->o->hmp)
		return line;
	if (!strncmp(line, "hmp", 3) && (is_space(line[3]) || !line[3])) {
		line += 3;
		while (is_space(*line))
			line++;
		return line;
	}
	return NULL;
}

/* Returns 0 with *cmd and *args set, or -1 with *errp. */
static int build(const struct shell *sh, const char *line, char **cmd, struct json_object **args,
		 struct qc_error **errp)
{
	const char *hmp = hmp_line(sh, line);

	if (hmp) {
		if (!*hmp) {
			qc_error_set(errp, "no HMP command given");
			return -1;
		}
		*cmd = qc_strdup("human-monitor-command");
		*args = json_object_new_object();
		json_object_object_add(*args, "command-line", json_object_new_string(hmp));
		return 0;
	}
	if (qmp_args_parse_line(line, cmd, args, errp) < 0)
		return -1;
	if (*args && json_object_object_length(*args) == 0) {
		json_object_put(*args);
		*args = NULL;
	}
	return 0;
}

static struct json_object *make_reply(struct json_object *ret, const struct qc_error *err, uint64_t id)
{
	struct json_object *reply = json_object_new_object();

	if (err) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "class",
				       json_object_new_string(err->qmp_class ? err->qmp_class : "GenericError"));
		json_object_object_add(e, "desc", json_object_new_string(err->msg));
		json_object_object_add(reply, "error", e);
	} else {
		json_object_object_add(reply, "return", json_object_get(ret));
	}
	if (id)
		json_object_object_add(reply, "id", json_object_new_int64((int64_t)id));
	return reply;
}

static const char *compact(struct json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* ---- script mode --------------------------------------------------------- */

static int run_script(struct shell *sh)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0, failed = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		struct qc_error *err = NULL;
		struct json_object *args = NULL, *ret, *reply;
		char *cmd = NULL, *p = line;

		lineno++;
		while (n > 0 && is_space(line[n - 1]))
			line[--n] = '\0';
		while (is_space(*p))
			p++;
		if (!*p || *p == '#')
			continue;
		/* As on a terminal: exit ends the script here, not QEMU. */
		if (!strcmp(p, "exit"))
			break;
		if (build(sh, p, &cmd, &args, &err) < 0) {
			/* A line for it too, so that replies stay in step with
			 * commands (--keep-going). */
			reply = make_reply(NULL, err, 0);
			puts(compact(reply));
			fflush(stdout);
			json_object_put(reply);
			qc_error_prepend(&err, "line %u", lineno);
			cli_fail(err);
			failed++;
			if (!sh->o->keep_going)
				break;
			continue;
		}
		ret = qmp_sync_execute(sh->ctx->base, sh->s, cmd, args, &err);
		reply = make_reply(ret, err, 0);
		puts(compact(reply));
		fflush(stdout);
		json_object_put(reply);
		json_object_put(ret);
		free(cmd);
		if (err) {
			bool closed = qmp_session_state(sh->s) == QMP_SESSION_CLOSED;

			cli_error("line %u: %s%s%s", lineno, err->qmp_class ? err->qmp_class : "",
				  err->qmp_class ? ": " : "", err->msg);
			qc_error_free(err);
			failed++;
			if (!sh->o->keep_going || closed)
				break;
		}
	}
	if (ferror(stdin)) {
		cli_error("cannot read commands from stdin: %s", strerror(errno));
		failed++;
	}
	free(line);
	return failed ? 1 : 0;
}

/* ---- the terminal -------------------------------------------------------- */

/* Prints text (ending in a newline) above the line being edited. */
static void say(struct shell *sh, FILE *f, const char *text)
{
	if (sh->prompt_on) {
		/* Clear the row with the cursor; libedit redraws the whole line
		 * below the text.  (libedit does not tell where its cursor is, so
		 * rows above, of a line longer than the terminal is wide, stay.) */
		fputs("\r\033[J", stdout);
		fflush(stdout);
	}
	fputs(text, f);
	fflush(f);
	if (sh->prompt_on)
		rl_forced_update_display();
}

static void sayf(struct shell *sh, FILE *f, const char *fmt, ...) QC_PRINTF(3, 4);

static void sayf(struct shell *sh, FILE *f, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	say(sh, f, text);
	free(text);
}

static void on_trace(void *opaque, bool outgoing, const char *json)
{
	sayf(opaque, stderr, "%s %s\n", outgoing ? "->" : "<-", json);
}

static void on_event(void *opaque, const char *name, struct json_object *event)
{
	struct shell *sh = opaque;

	(void)name;
	if (sh->ctx->verbose)
		return; /* the trace shows it already */
	sayf(sh, stdout, "%s\n", compact(event));
}

struct shell_req {
	struct shell *sh;
	uint64_t id;
	bool hmp;
};

static void on_reply(void *opaque, struct json_object *ret, const struct qc_error *err)
{
	struct shell_req *r = opaque;
	struct shell *sh = r->sh;
	struct qc_buf b = { 0 };

	sh->pending--;
	if (sh->ctx->json) {
		struct json_object *reply = make_reply(ret, err, r->id);

		sayf(sh, stdout, "%s\n", compact(reply));
		json_object_put(reply);
	} else if (err) {
		sayf(sh, stderr, "error: %s%s%s\n", err->qmp_class ? err->qmp_class : "", err->qmp_class ? ": " : "",
		     err->msg);
	} else if (r->hmp && json_object_is_type(ret, json_type_string)) {
		/* HMP's text, with LF line ends. */
		const char *text = json_object_get_string(ret);

		for (; *text; text++)
			if (!(text[0] == '\r' && text[1] == '\n'))
				qc_buf_append_c(&b, *text);
		if (b.len && b.data[b.len - 1] != '\n')
			qc_buf_append_c(&b, '\n');
		say(sh, stdout, qc_buf_str(&b));
	} else if ((json_object_is_type(ret, json_type_object) && json_object_object_length(ret) == 0)) {
		say(sh, stdout, "{}\n");
	} else if (json_object_is_type(ret, json_type_array) && json_object_array_length(ret) == 0) {
		say(sh, stdout, "[]\n");
	} else {
		sayf(sh, stdout, "%s\n",
		     json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	qc_buf_free(&b);
	free(r);
	if (sh->leaving && sh->pending == 0)
		sh->done = true;
}

/* Ctrl-D or "exit": no more prompt; replies still due are printed
 * before the shell ends (Ctrl-C stops waiting for them). */
static void leave(struct shell *sh)
{
	sh->prompt_on = false;
	rl_callback_handler_remove();
	fflush(stdout);
	sh->leaving = true;
	event_del(sh->stdin_ev);
	sh->done = sh->pending == 0;
}

static bool last_history_is(const char *line)
{
	HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;

	return last && last->line && !strcmp(last->line, line);
}

static void on_line(char *line)
{
	struct shell *sh = the_shell;
	struct qc_error *err = NULL;
	struct json_object *args = NULL;
	struct shell_req *r;
	char *cmd = NULL, *p = line;
	size_t n;

	if (!line) {
		putchar('\n');
		leave(sh);
		return;
	}
	/* The line is taken and the cursor on a fresh row: what is said now
	 * goes there, with no prompt redrawn under it (a fresh one follows). */
	sh->prompt_on = false;
	while (is_space(*p))
		p++;
	n = strlen(p);
	while (n && is_space(p[n - 1]))
		p[--n] = '\0';
	if (!*p || *p == '#')
		goto out;
	if (!last_history_is(p)) {
		add_history(p);
		if (sh->history)
			write_history(sh->history);
	}
	if (!strcmp(p, "exit")) {
		leave(sh);
		goto out;
	}
	if (build(sh, p, &cmd, &args, &err) < 0) {
		sayf(sh, stderr, "error: %s\n", err->msg);
		qc_error_free(err);
		goto out;
	}
	r = qc_calloc(1, sizeof(*r));
	r->sh = sh;
	r->hmp = hmp_line(sh, p) != NULL;
	r->id = qmp_session_execute(sh->s, cmd, args, 0, NULL, 0, 0, on_reply, r, &err);
	if (!r->id) {
		sayf(sh, stderr, "error: %s\n", err->msg);
		qc_error_free(err);
		free(r);
	} else {
		sh->pending++;
	}
out:
	free(cmd);
	free(line);
	/* A fresh, empty line and prompt (libedit does not always reset its
	 * buffer after calling us). */
	if (!sh->done && !sh->leaving) {
		rl_callback_handler_install(sh->o->hmp ? PROMPT_HMP : PROMPT_QMP, on_line);
		sh->prompt_on = true;
	}
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	rl_callback_read_char();
}

static void on_sigint(struct shell *sh)
{
	/* Like a shell: drop the line being typed, start afresh (removing
	 * and installing the handler is what resets libedit's buffer). */
	if (sh->leaving) {
		sh->done = true;
		return;
	}
	/* Not an end: main must not die of it when the shell ends later. */
	sh->ctx->signo = 0;
	sh->ctx->cancel = false;
	if (!sh->prompt_on)
		return;
	rl_callback_handler_remove();
	fputs("\n", stdout);
	rl_callback_handler_install(sh->o->hmp ? PROMPT_HMP : PROMPT_QMP, on_line);
}

static void on_winch(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	rl_resize_terminal();
}

/* SIGTERM, SIGHUP: end cleanly, so that the terminal is given back in the
 * mode it was in. */
static void on_sigterm(struct shell *sh)
{
	sh->done = true;
	event_base_loopbreak(sh->ctx->base);
}

static void on_signal(void *arg, int sig)
{
	if (sig == SIGINT)
		on_sigint(arg);
	else
		on_sigterm(arg);
}

static void on_state(void *opaque, enum qmp_session_state state, const struct qc_error *err)
{
	struct shell *sh = opaque;

	if (state != QMP_SESSION_CLOSED)
		return;
	sh->fatal = err ? qc_error_copy(err) : NULL;
	if (!sh->fatal)
		qc_error_set(&sh->fatal, "connection to QEMU closed");
	sh->done = true;
	event_base_loopbreak(sh->ctx->base);
}

/* ---- completion ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void words_add(struct words *w, const char *name, size_t len)
{
	for (size_t i = 0; i < w->n; i++)
		if (strlen(w->v[i]) == len && !strncmp(w->v[i], name, len))
			return;
	w->v = qc_realloc(w->v, (w->n + 1) * sizeof(char *));
	w->v[w->n++] = qc_strndup(name, len);
}

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

static void on_commands(struct shell *sh, struct json_object *ret)
{
	for (size_t i = 0; json_object_is_type(ret, json_type_array) && i < json_object_array_length(ret); i++) {
		const char *name =
			json_object_get_string(json_object_object_get(json_object_array_get_idx(ret, i), "name"));

		if (name)
			words_add(&sh->commands, name, strlen(name));
	}
}

/* HMP's "help" text: one command per line, "name|alias args -- what";
 * "help info" lines start with "info name". */
static void on_hmp_help(struct shell *sh, struct json_object *ret, struct words *w, bool info)
{
	const char *p = json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : "";

	while (*p) {
		size_t line = strcspn(p, "\n"), n;
		const char *q = p;

		while (q < p + line && *q == ' ')
			q++;
		if (info && !strncmp(q, "info ", 5))
			q += 5;
		else if (info)
			q = p + line;
		while (q < p + line && *q != ' ' && *q != '[' && *q != '\r') {
			n = strcspn(q, "| [\r\n");
			if (n)
				words_add(w, q, n);
			q += n;
			if (*q == '|')
				q++;
		}
		p += line + (p[line] == '\n');
	}
}

static void on_schema(struct shell *sh, struct json_object *ret)
{
	if (ret)
		sh->schema = qmp_schema_new(ret, NULL);
}

/* What completion needs, fetched before the first prompt (a few
 * milliseconds) so that Tab works from the first key.  Failures only mean
 * less to complete. */
static void fetch_completions(struct shell *sh)
{
	static const char *const hmp_help[] = { "help", "help info" };

	for (int k = 0; k < 4; k++) {
		struct qc_error *err = NULL;
		struct json_object *args = NULL, *ret;
		const char *cmd = k == 0 ? "query-commands" : k == 1 ? "query-qmp-schema" : "human-monitor-command";

		if (k >= 2) {
			args = json_object_new_object();
			json_object_object_add(args, "command-line", json_object_new_string(hmp_help[k - 2]));
		}
		ret = qmp_sync_execute(sh->ctx->base, sh->s, cmd, args, &err);
		if (k == 0)
			on_commands(sh, ret);
		else if (k == 1)
			on_schema(sh, ret);
		else
			on_hmp_help(sh, ret, k == 2 ? &sh->hmp : &sh->info, k == 3);
		json_object_put(ret);
		qc_error_free(err);
	}
}

/* Candidates of the completion under way, handed out by next_match. */
static char **cands;
static size_t n_cands, next_cand;

static void add_cand(const char *text, const char *word, size_t wlen)
{
	if (strncmp(word, text, strlen(text)) != 0 || strlen(word) < wlen)
		return;
	for (size_t i = 0; i < n_cands; i++)
		if (!strcmp(cands[i], word))
			return;
	cands = qc_realloc(cands, (n_cands + 1) * sizeof(char *));
	cands[n_cands++] = qc_strdup(word);
}

static void clear_cands(void)
{
	for (size_t i = 0; i < n_cands; i++)
		free(cands[i]);
	free(cands);
	cands = NULL;
	n_cands = next_cand = 0;
}

static char *next_match(const char *text, int state)
{
	(void)text;
	(void)state;
	if (next_cand < n_cands)
		return qc_strdup(cands[next_cand++]);
	return NULL;
}

struct member_walk {
	const char *prefix; /* "a.b." */
	const char *text;
};

static bool member_fn(void *opaque, const struct qmp_schema_entity *owner, const struct qmp_schema_member *m)
{
	struct member_walk *w = opaque;
	/* Objects go on with a dot, everything else takes a value. */
	char *word =
		qc_asprintf("%s%s%s", w->prefix, m->name, m->type && m->type->meta == QMP_SCHEMA_OBJECT ? "." : "=");

	(void)owner;
	add_cand(w->text, word, 0);
	free(word);
	return true;
}

/* Values for "key=": an enum's names, or true/false. */
static void complete_value(const struct qmp_schema_entity *t, const char *text, size_t keylen)
{
	char *key = qc_strndup(text, keylen + 1); /* with the '=' */

	if (qmp_schema_is_bool(t)) {
		char *w = qc_asprintf("%strue", key);

		add_cand(text, w, 0);
		free(w);
		w = qc_asprintf("%sfalse", key);
		add_cand(text, w, 0);
		free(w);
	}
	for (size_t i = 0; t->meta == QMP_SCHEMA_ENUM && i < t->n_values; i++) {
		char *w = qc_asprintf("%s%s", key, t->values[i]);

		add_cand(text, w, 0);
		free(w);
	}
	free(key);
}

/* Argument names (or values) for the command at the start of the line.
 * Returns true when completing a value. */
static bool complete_args(struct shell *sh, const char *text)
{
	char *cmd = qc_strndup(rl_line_buffer, strcspn(rl_line_buffer, " \t"));
	const struct qmp_schema_entity *c = qmp_schema_command(sh->schema, cmd), *type = c ? c->arg_type : NULL;
	const char *dot, *eq = strchr(text, '=');
	struct member_walk w = { .text = text };
	char *prefix;

	free(cmd);
	if (!type)
		return false;
	if (eq) {
		const struct qmp_schema_entity *vt = qmp_schema_path_type(type, text, (size_t)(eq - text));

		if (vt)
			complete_value(vt, text, (size_t)(eq - text));
		return true;
	}
	/* Members of the object at the dotted path typed so far. */
	dot = strrchr(text, '.');
	prefix = qc_strndup(text, dot ? (size_t)(dot - text) + 1 : 0);
	type = qmp_schema_as_object(qmp_schema_path_type(type, prefix, strlen(prefix) ? strlen(prefix) - 1 : 0));
	w.prefix = prefix;
	qmp_schema_walk_members(type, member_fn, &w);
	free(prefix);
	return false;
}

/* HMP: the command name, or the word after "info". */
static void complete_hmp(struct shell *sh, const char *text, int start)
{
	const char *line = hmp_line(sh, rl_line_buffer);
	size_t off = line ? (size_t)(line - rl_line_buffer) : 0;
	const char *w1 = rl_line_buffer + off;
	size_t n1 = strcspn(w1, " \t");

	if ((size_t)start <= off) {
		for (size_t i = 0; i < sh->hmp.n; i++)
			add_cand(text, sh->hmp.v[i], 0);
		return;
	}
	if (n1 == 4 && !strncmp(w1, "info", 4)) {
		/* Only the word right after "info". */
		for (const char *p = w1 + n1; p < rl_line_buffer + start; p++)
			if (!is_space(*p))
				return;
		for (size_t i = 0; i < sh->info.n; i++)
			add_cand(text, sh->info.v[i], 0);
	}
}

static char **complete(const char *text, int start, int end)
{
	struct shell *sh = the_shell;
	bool first = true;

	(void)end;
	rl_attempted_completion_over = 1; /* never file names */
	clear_cands();
	for (int i = 0; i < start; i++)
		if (!is_space(rl_line_buffer[i]))
			first = false;
	rl_completion_append_character = ' ';
	if (sh->o->hmp || (!first && hmp_line(sh, rl_line_buffer))) {
		complete_hmp(sh, text, start);
	} else if (first) {
		for (size_t i = 0; i < sh->commands.n; i++)
			add_cand(text, sh->commands.v[i], 0);
		add_cand(text, "hmp", 0);
	} else if (!complete_args(sh, text)) {
		rl_completion_append_character = '\0';
	}
	if (!n_cands)
		return NULL;
	qsort(cands, n_cands, sizeof(char *), cmp_str);
	return rl_completion_matches(text, next_match);
}

/* ---- interactive mode ---------------------------------------------------- */

static char *history_path(void)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *dir, *path;

	if (state && *state == '/')
		dir = qc_asprintf("%s/qmpctl", state);
	else if (home && *home)
		dir = qc_asprintf("%s/.local/state/qmpctl", home);
	else
		return NULL;
	/* mkdir -p, private: history may hold secrets typed as arguments. */
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(dir, 0700);
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	path = qc_asprintf("%s/history", dir);
	free(dir);
	return path;
}

static int run_interactive(struct shell *sh)
{
	static char breaks[] = " \t";
	struct event *winch;
	struct qmp_subscription *sub;
	int rc = 0;

	the_shell = sh;
	/* -v traces what the user does, not the schema (~200 KB) fetched here. */
	qmp_session_set_trace(sh->s, NULL, NULL);
	fetch_completions(sh);
	sub = qmp_session_subscribe(sh->s, NULL, on_event, sh);
	qmp_session_set_state_cb(sh->s, on_state, sh);
	if (sh->ctx->verbose)
		qmp_session_set_trace(sh->s, on_trace, sh);

	rl_readline_name = "qmpctl";
	rl_catch_signals = 0;
	rl_attempted_completion_function = complete;
	rl_basic_word_break_characters = breaks;
	rl_completer_word_break_characters = breaks;
	using_history();
	stifle_history(HISTORY_MAX);
	sh->history = history_path();
	if (sh->history)
		read_history(sh->history);

	sh->stdin_ev = event_new(sh->ctx->base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, sh);
	/* Only at the prompt: a script dies of them as any filter does. */
	sh->ctx->on_signal = on_signal;
	sh->ctx->signal_opaque = sh;
	cli_catch_signals(sh->ctx, QC_SIGS);
	winch = evsignal_new(sh->ctx->base, SIGWINCH, on_winch, sh);
	event_add(winch, NULL);
	event_add(sh->stdin_ev, NULL);
	if (qmp_session_version(sh->s))
		printf("Connected to QEMU %s. Tab completes, Ctrl-D ends.\n", qmp_session_version(sh->s));
	rl_callback_handler_install(sh->o->hmp ? PROMPT_HMP : PROMPT_QMP, on_line);
	sh->prompt_on = true;
	while (!sh->done)
		if (event_base_loop(sh->ctx->base, EVLOOP_ONCE) < 0)
			break;
	if (sh->prompt_on) {
		sh->prompt_on = false;
		rl_callback_handler_remove();
		putchar('\n');
	}
	if (sh->fatal)
		rc = cli_fail(sh->fatal);
	sh->fatal = NULL;
	event_free(sh->stdin_ev);
	event_free(winch);
	sh->ctx->on_signal = NULL;
	qmp_session_set_state_cb(sh->s, NULL, NULL);
	qmp_session_set_trace(sh->s, NULL, NULL);
	qmp_session_unsubscribe(sh->s, sub);
	clear_cands();
	free(sh->history);
	the_shell = NULL;
	return rc;
}

static const struct option longopts[] = {
	{ "hmp", no_argument, NULL, 'H' },
	{ "keep-going", no_argument, NULL, 'k' },
	{ NULL, 0, NULL, 0 },
};
static struct shell_opts o;

static int exec_shell(struct qc_ctx *ctx, const struct qc_run *run)
{
	struct shell sh = { .ctx = ctx, .o = &o };
	int rc;

	sh.tty = isatty(STDIN_FILENO);
	sh.s = run->s;
	if (sh.tty)
		rc = run_interactive(&sh);
	else
		rc = run_script(&sh);
	words_free(&sh.commands);
	words_free(&sh.hmp);
	words_free(&sh.info);
	qmp_schema_free(sh.schema);
	return rc;
}

const struct qc_cmd qc_cmd_shell = {
	.name = "shell",
	.summary = "interactive QMP shell (completion, history, live events)",
	.usage = usage,
	.shortopts = "Hk",
	.longopts = longopts,
	.opt = own_opt,
	.opts = &o,
	.vm = QC_VM_LIVE,
	.exec = exec_shell,
};
