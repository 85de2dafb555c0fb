/* wire-live.c — garbage with the right shape, sent to a running daemon.
 *
 *   wire-live --address ADDR [--key FILE --name NAME] [--frames N] [--seed S]
 *
 * Connects (and, with --key, authenticates as daemon NAME with the pool
 * key, as a startd or shadow would), then sends N frames: each a message
 * type picked at random — requests and replies alike — with a body of
 * that type made of awkward values (empty and huge strings, paths with
 * "..", expressions that do not parse, extreme numbers, long arrays,
 * random bytes); one frame in eight is then damaged so that its body is
 * no longer in normal form.  The fuzz targets (fuzz-*.c) test the
 * parsers; this tests what the daemons' request handlers do with values
 * that parse.  A daemon must answer a frame, stay silent or close the
 * connection (then we reconnect), and never stop serving: the run fails
 * when a connection cannot be made, and after the last frame a new
 * client must still be able to connect and authenticate.
 * The same --seed sends the same frames. */
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "util.h"
#include "conn.h"
#include "wire.h"

static GRand *rnd;

static const char *const strings[] = {
    "", "x", "slot1@fuzz", "fuzz", "1.0", "1.0 2.3", "../../../etc/passwd", "/", ".", "..", "a/b",
    "true", "((((", "TARGET.Memory > 1 &&", "Memory = 1", "Requirements = true", "read", "write", "stat", "renew",
    "delete", "nobody", "root", "kcr-00000000000000000000000000000000", "0123456789abcdef", "caf\xc3\xa9",
    "_condor_stdout", "127.0.0.1:1", "MyType", "CkptServer", "Owner", "JobPrio",
};

static gint64 pick_int(void)
{
	static const gint64 ints[] = {0, 1, 2, 3, -1, 7, 1000, G_MAXINT64, G_MININT64, G_MAXUINT32, 1ll << 40, 4096};
	return g_rand_int_range(rnd, 0, 4) ? ints[g_rand_int_range(rnd, 0, G_N_ELEMENTS(ints))]
					   : (gint64)g_rand_int(rnd) << 16;
}

static const char *const *extra_words; /* --word */

static char *pick_string(void)
{
	if (extra_words && extra_words[0] && g_rand_int_range(rnd, 0, 4) == 0)
		return g_strdup(extra_words[g_rand_int_range(rnd, 0, g_strv_length((char **)extra_words))]);
	switch (g_rand_int_range(rnd, 0, 10)) {
	case 0: /* long */
		return g_strnfill(g_rand_int_range(rnd, 1, 70000), 'A');
	case 1: { /* an ad line with an odd value */
		return g_strdup_printf("%s = %s", strings[g_rand_int_range(rnd, 0, G_N_ELEMENTS(strings))],
				       strings[g_rand_int_range(rnd, 0, G_N_ELEMENTS(strings))]);
	}
	default:
		return g_strdup(strings[g_rand_int_range(rnd, 0, G_N_ELEMENTS(strings))]);
	}
}

static GVariant *make_value(const GVariantType *t, guint depth)
{
	if (g_variant_type_is_basic(t)) {
		switch (g_variant_type_peek_string(t)[0]) {
		case 's': {
			g_autofree char *s = pick_string();
			return g_variant_new_string(s);
		}
		case 'b':
			return g_variant_new_boolean(g_rand_boolean(rnd));
		case 'y':
			return g_variant_new_byte((guint8)g_rand_int(rnd));
		case 'q':
			return g_variant_new_uint16((guint16)pick_int());
		case 'i':
			return g_variant_new_int32((gint32)pick_int());
		case 'u':
			return g_variant_new_uint32((guint32)pick_int());
		case 'x':
			return g_variant_new_int64(pick_int());
		case 't':
			return g_variant_new_uint64((guint64)pick_int());
		case 'd': {
			static const double ds[] = {0, -1, 0.5, 1e308, -1e308, 1e-300};
			return g_variant_new_double(ds[g_rand_int_range(rnd, 0, G_N_ELEMENTS(ds))]);
		}
		}
		g_error("wire-live: no generator for type %s", g_variant_type_peek_string(t));
	}
	if (g_variant_type_is_array(t)) {
		const GVariantType *e = g_variant_type_element(t);
		if (g_variant_type_equal(e, G_VARIANT_TYPE_BYTE)) {
			gsize n = g_rand_int_range(rnd, 0, 5) ? g_rand_int_range(rnd, 0, 64)
							      : g_rand_int_range(rnd, 0, 200000);
			guint8 *buf = g_malloc(n + 1);
			for (gsize i = 0; i < n; i++)
				buf[i] = (guint8)g_rand_int(rnd);
			return g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, buf, n, TRUE, g_free, buf);
		}
		guint n = depth > 2 ? 0 : g_rand_int_range(rnd, 0, 16) ? g_rand_int_range(rnd, 0, 4) : 1500;
		GVariantBuilder b;
		g_variant_builder_init(&b, t);
		for (guint i = 0; i < n; i++)
			g_variant_builder_add_value(&b, make_value(e, depth + 1));
		return g_variant_builder_end(&b);
	}
	if (g_variant_type_is_tuple(t)) {
		GVariantBuilder b;
		g_variant_builder_init(&b, t);
		for (const GVariantType *i = g_variant_type_first(t); i; i = g_variant_type_next(i))
			g_variant_builder_add_value(&b, make_value(i, depth + 1));
		return g_variant_builder_end(&b);
	}
	g_error("wire-live: no generator for type %s", g_variant_type_peek_string(t));
}

typedef struct {
	const char *address, *name;
	GBytes *key;
	double reply_timeout;
} Target;

static KiteConn *connect_target(const Target *t, GError **error)
{
	g_autoptr(KiteConn) c = kite_conn_connect(t->address, 10, error);
	if (!c)
		return NULL;
	if (t->key && !kite_conn_auth_daemon(c, t->key, t->name, error))
		return NULL;
	return g_steal_pointer(&c);
}

typedef struct {
	guint replies, refusals, silences, closes, damaged;
	GString *silent; /* the types of the frames that had no answer in time */
} Counts;

/* Read what the daemon sends within the reply timeout.  Returns FALSE
 * when it closed the connection (or broke the framing). */
static gboolean drain(KiteConn *c, const Target *t, guint type, Counts *n)
{
	struct pollfd p = {.fd = kite_conn_fd(c), .events = POLLIN};
	if (poll(&p, 1, (int)(t->reply_timeout * 1000)) <= 0) {
		n->silences++;
		g_string_append_printf(n->silent, " %s", kite_wire_type_name(type));
		return TRUE;
	}
	KiteWireHeader h;
	g_autoptr(GError) error = NULL;
	if (!kite_conn_recv_header(c, &h, &error))
		return FALSE;
	g_autoptr(GVariant) body = kite_conn_recv_body(c, &h, NULL, &error);
	if (body)
		n->replies++;
	else if (h.type == KITE_MSG_ERROR && error && error->domain == KITE_ERROR)
		n->refusals++; /* an ERROR reply; the connection may go on */
	else
		return FALSE;
	return TRUE;
}

/* The requests (not replies) whose description says they go to
 * @daemon ("… -> schedd: …"), from wire-messages.h. */
static guint requests_to(const char *daemon, guint *out)
{
	static const struct {
		guint type;
		const char *name, *doc;
	} all[] = {
#define KITE_X(name, num, type, doc) {num, #name, doc},
	    KITE_WIRE_MESSAGES(KITE_X)
#undef KITE_X
	};
	g_autofree char *arrow = g_strdup_printf("-> %s", daemon);
	guint n = 0;
	for (guint i = 0; i < G_N_ELEMENTS(all); i++)
		if (strstr(all[i].doc, arrow) && !g_str_has_suffix(all[i].name, "_REPLY"))
			out[n++] = all[i].type;
	return n;
}

int main(int argc, char **argv)
{
	const char *address = NULL, *key_file = NULL, *name = "wire-live", *to = NULL;
	g_auto(GStrv) words = NULL;
	gint frames = 2000;
	gint64 seed = 1;
	double reply_timeout = 0.5;
	GOptionEntry entries[] = {
	    {"address", 0, 0, G_OPTION_ARG_STRING, &address, "the daemon (socket path or HOST:PORT)", "ADDR"},
	    {"key", 0, 0, G_OPTION_ARG_FILENAME, &key_file, "authenticate as a daemon with this pool key", "FILE"},
	    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "daemon name to authenticate as", "NAME"},
	    {"to", 0, 0, G_OPTION_ARG_STRING, &to,
	     "mostly send the requests this daemon answers (schedd, startd, ckpt_server)", "DAEMON"},
	    {"word", 0, 0, G_OPTION_ARG_STRING_ARRAY, &words, "a string to use among the values (e.g. a slot name)",
	     "TEXT"},
	    {"frames", 0, 0, G_OPTION_ARG_INT, &frames, "frames to send (2000)", "N"},
	    {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "random seed (1)", "S"},
	    {"reply-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &reply_timeout, "seconds to wait for a reply (0.5)", "S"},
	    {NULL}};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- send well-typed garbage to a Kite daemon");
	g_option_context_add_main_entries(ctx, entries, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || !address) {
		fprintf(stderr, "wire-live: %s\n", error ? error->message : "--address is required");
		return 2;
	}
	Target t = {.address = address, .name = name, .reply_timeout = reply_timeout};
	if (key_file && !(t.key = kite_auth_load_key(key_file, FALSE, &error))) {
		fprintf(stderr, "wire-live: %s\n", error->message);
		return 2;
	}
	rnd = g_rand_new_with_seed((guint32)seed);
	guint types[256], n_types = 0, requests[256], n_requests = 0;
	for (guint ty = 0; ty < 256; ty++)
		if (kite_wire_type_name(ty))
			types[n_types++] = ty;
	if (to && !(n_requests = requests_to(to, requests))) {
		fprintf(stderr, "wire-live: no message in wire-messages.h goes to \"%s\"\n", to);
		return 2;
	}
	extra_words = (const char *const *)words;

	Counts n = {.silent = g_string_new(NULL)};
	g_autoptr(KiteConn) c = NULL;
	for (gint f = 0; f < frames; f++) {
		if (!c && !(c = connect_target(&t, &error))) {
			fprintf(stderr, "wire-live: frame %d (seed %" G_GINT64_FORMAT "): cannot connect to %s: %s\n", f,
				seed, address, error->message);
			return 1;
		}
		/* seven in eight: a request the daemon answers */
		guint type = n_requests && g_rand_int_range(rnd, 0, 8) ? requests[g_rand_int_range(rnd, 0, n_requests)]
								      : types[g_rand_int_range(rnd, 0, n_types)];
		g_autoptr(GVariant) body = g_variant_ref_sink(make_value(kite_wire_body_type(type), 0));
		gsize len = g_variant_get_size(body);
		g_autofree guint8 *frame = g_malloc(KITE_WIRE_HEADER_SIZE + len + 1);
		kite_wire_header(frame, type, len);
		memcpy(frame + KITE_WIRE_HEADER_SIZE, g_variant_get_data(body), len);
		if (len > 0 && g_rand_int_range(rnd, 0, 8) == 0) { /* damage it: framing offsets are at the end */
			frame[KITE_WIRE_HEADER_SIZE + len - 1 - g_rand_int_range(rnd, 0, MIN(len, 8))] ^= 0xff;
			n.damaged++;
		}
		struct iovec iov = {.iov_base = frame, .iov_len = KITE_WIRE_HEADER_SIZE + len};
		if (!kite_conn_send_iov(c, &iov, 1, &error) || !drain(c, &t, type, &n)) {
			g_clear_error(&error);
			g_clear_pointer(&c, kite_conn_free);
			n.closes++;
		}
	}
	g_clear_pointer(&c, kite_conn_free);
	/* The daemon still serves a newcomer. */
	if (!(c = connect_target(&t, &error))) {
		fprintf(stderr, "wire-live: after %d frames (seed %" G_GINT64_FORMAT "): cannot connect to %s: %s\n",
			frames, seed, address, error->message);
		return 1;
	}
	printf("%d frames (%u damaged): %u answered, %u refused, %u closed the connection, %u silent for %.1f s%s%s\n",
	       frames, n.damaged, n.replies, n.refusals, n.closes, n.silences, reply_timeout,
	       n.silences ? ":" : "", n.silent->str);
	g_string_free(n.silent, TRUE);
	return 0;
}
