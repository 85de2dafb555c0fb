/* wire-messages.h — every message of Kite's wire protocol, declared once.
 *
 * X(NAME, number, GVariant body type, direction and meaning)
 *
 * The number is the `type` field of the frame header and never changes
 * once released; the body type is fixed per message, and a body of any
 * other type (or not in GVariant normal form) is refused.  Add new
 * messages at the end of a block; bump KITE_WIRE_VERSION only when an
 * existing message changes. */
#pragma once

/* Job ids travel as (cluster, proc); proc -1 means "every proc of the
 * cluster".  Ads travel as a(ss): (attribute name, expression text).
 *
 * A query reply is columnar — one array per column, all of the same
 * length — because a reply can hold 100,000 jobs and arrays of numbers
 * and strings encode and decode in one piece, where a tuple per row costs
 * a GVariant per field.  Columns, in order: cluster, proc, owner, qdate,
 * run time (s), status (KiteJobStatus), priority, image size (KiB),
 * checkpoints, last checkpoint time, host, command line, hold reason,
 * entered current status, full ads (one per row if asked for, else
 * none). */
#define KITE_WIRE_QUERY_REPLY_TYPE "(axaxasaxaxaiaiaxaiaxasasasaxaa(ss))"

#define KITE_WIRE_MESSAGES(X)                                                                                \
	/* both directions */                                                                                \
	X(ERROR, 1, "(us)",                                                                                  \
	  "any reply: (KiteErrorCode, message); the sender closes the connection after it")                  \
	/* connection set-up */                                                                              \
	X(HELLO, 2, "(ssay)", "server -> client on connect: (daemon name, version, nonce for auth)")         \
	X(AUTH_TOKEN, 3, "(s)", "client -> server: a user token signed with the pool key")                   \
	X(AUTH_DAEMON, 4, "(say)",                                                                           \
	  "client -> server: (daemon name, HMAC-SHA256 of the nonce with the pool key)")                     \
	X(AUTH_OK, 5, "(ss)", "server -> client: (identity, role: user | admin | daemon)")                   \
	/* the job queue (schedd) */                                                                         \
	X(SUBMIT, 10, "(a(ss)u)", "client -> schedd: (job template ad, number of procs)")                    \
	X(SUBMIT_REPLY, 11, "(xu)",                                                                          \
	  "schedd -> client: (cluster id, number of procs), sent after the commit")                          \
	X(QUERY, 12, "(sa(xx)isbb)",                                                                         \
	  "client -> schedd: (owner or \"\", ids, status or 0, constraint or \"\", history?, full ads?)")    \
	X(QUERY_REPLY, 13, KITE_WIRE_QUERY_REPLY_TYPE, "schedd -> client: matching jobs, by column")         \
	X(ACT, 14, "(ua(xx)s)", "client -> schedd: (KiteJobAction, ids, reason)")                            \
	X(ACT_REPLY, 15, "(a(xxbs))", "schedd -> client: per job (cluster, proc, done?, message)")           \
	X(EDIT, 16, "(a(xx)ss)", "client -> schedd: (ids, attribute, expression)")                           \
	X(TOKEN_CREATE, 17, "(sx)", "client -> schedd: (user, lifetime in seconds); admins: anyone, users: themselves")            \
	X(TOKEN_REPLY, 18, "(s)", "schedd -> client: the token")                                            \
	/* machines (the schedd's collector role) */                                                         \
	X(MACHINE_ADS, 20, "(aa(ss))",                                                                       \
	  "startd -> schedd (daemon role only): the current ad of each of its slots")                        \
	X(MACHINE_ADS_REPLY, 21, "(u)", "schedd -> startd: number of ads stored or dropped")                 \
	X(MACHINES_QUERY, 22, "(s)", "client -> schedd: (constraint over machine ads, or \"\")")             \
	X(MACHINES_REPLY, 23, "(aa(ss))", "schedd -> client: the matching slot ads, sorted by Name")         \
	X(MACHINE_INVALIDATE, 24, "(as)",                                                                    \
	  "startd -> schedd (daemon role only): drop these slots now (shutdown); reply MACHINE_ADS_REPLY")  \
	/* the agent (schedd; docs/pool.md, `pool query`) */                                               \
	X(AGENT_QUERY, 25, "(ssd)",                                                                          \
	  "client -> schedd: (requirements or \"\", rank or \"\", work in Mips-seconds or 0)")              \
	X(AGENT_REPLY, 26, "(a(sssxddd))",                                                                   \
	  "schedd -> client: slots that could run it, best first: (name, state, activity, Mips or -1, "     \
	  "LoadAvg or -1, rank, predicted run time in seconds or -1)")                                      \
	/* a job's record of events (schedd; `q -l`) */                                                    \
	X(JOB_EVENTS, 28, "(xx)", "client -> schedd: (cluster, proc): what happened to the job")           \
	X(JOB_EVENTS_REPLY, 29, "(a(xsss))",                                                                 \
	  "schedd -> client: its events, oldest first: (time, event, slot, detail)")                         \
	/* claims and jobs (shadow -> startd, daemon role only; docs/running-jobs.md) */                     \
	X(CLAIM, 30, "(ssa(ss))", "shadow -> startd: (slot name, claim id, job ad); reply CLAIM_REPLY")     \
	X(CLAIM_REPLY, 31, "(s)", "startd -> shadow: (what was done), for CLAIM and RELEASE")                \
	X(ACTIVATE, 32, "(ssa(suay))",                                                                       \
	  "shadow -> startd: (claim id, executable name, files (name, mode, contents)); starts the job")     \
	X(ACTIVATE_REPLY, 33, "(x)", "startd -> shadow: (process id of the job)")                           \
	X(CLAIM_STATUS, 34, "(s)", "shadow -> startd: (claim id); also the claim's heartbeat")              \
	X(CLAIM_STATUS_REPLY, 35, "(sxxsa(suay)a(ss)(bttt))",                                                \
	  "startd -> shadow: (running | suspended | vacating | exited | vacated | held | restart-failed, exit code, signal, "  \
	  "why, files back, the newest checkpoint's attributes, what the run used once it ended: (measured?, " \
	  "peak memory in bytes, user CPU in microseconds, system CPU in microseconds))")                    \
	X(RELEASE, 36, "(s)", "shadow -> startd: (claim id); the sandbox is removed; reply CLAIM_REPLY") \
	X(CLAIM_CHECKPOINT, 37, "(sb)",                                                                      \
	  "shadow -> startd: (claim id, exit after?): checkpoint the job now; reply CLAIM_REPLY") \
	/* checkpoint storage (ckpt_server; docs/ckpt-server.md) */                                           \
	X(CKPT_ALLOCATE, 40, "(stx)", "client -> ckpt_server: (owner or \"\", expected bytes, lease s or 0)")   \
	X(CKPT_ALLOCATED, 41, "(ssss)", "ckpt_server -> client: (allocation id, read, write, manage capability)") \
	X(CKPT_WRITE, 42, "(s)", "client -> ckpt_server: (write capability); starts an upload; reply CKPT_INFO") \
	X(CKPT_HAVE, 43, "(say)",                                                                            \
	  "client -> ckpt_server: (upload id, next manifest entries: hash 16 + length u32 LE each)")         \
	X(CKPT_HAVE_REPLY, 44, "(au)", "ckpt_server -> client: indices of the entries whose chunks it lacks") \
	X(CKPT_PUT, 45, "(say)", "client -> ckpt_server: (upload id, chunks: hash 16 + length u32 LE + data)") \
	X(CKPT_PUT_REPLY, 46, "(t)", "ckpt_server -> client: (bytes stored)")                              \
	X(CKPT_INFO, 47, "(ssxtttxs)",                                                                        \
	  "ckpt_server -> client: (id or upload id, owner, created, size, chunks, expected, expires, state)") \
	X(CKPT_COMMIT, 48, "(sttay)",                                                                        \
	  "client -> ckpt_server: (upload id, chunks, bytes, XXH3-128 of the HAVE entries); reply CKPT_INFO") \
	X(CKPT_READ, 49, "(s)", "client -> ckpt_server: (read capability); reply CKPT_MANIFEST")             \
	X(CKPT_MANIFEST, 50, "(ay)", "ckpt_server -> client: the committed manifest (common/ckpt-format.h)")  \
	X(CKPT_GET, 51, "(sttu)", "client -> ckpt_server: (read capability, generation, first chunk, count)") \
	X(CKPT_CHUNKS, 52, "(ay)", "ckpt_server -> client: the data of those chunks, back to back, verified") \
	X(CKPT_MANAGE, 53, "(ssx)",                                                                          \
	  "client -> ckpt_server: (manage capability, or allocation id for admins; stat|renew|delete; lease s)") \
	X(CKPT_LIST, 54, "(s)", "client -> ckpt_server: (owner or \"\"); users see their own allocations")     \
	X(CKPT_LIST_REPLY, 55, "(a(ssxtttxs))", "ckpt_server -> client: one CKPT_INFO tuple per allocation") \
	X(CKPT_STATUS, 56, "(u)", "client -> ckpt_server: (0, reserved); reply CKPT_STATUS_REPLY")            \
	X(CKPT_STATUS_REPLY, 57, "(sttttuu)",                                                                \
	  "ckpt_server -> client: (address, capacity, used, referenced at the last collection, free bytes, connections, uploads)") \
	X(CKPT_SERVERS_QUERY, 58, "(s)",                                                                       \
	  "client -> schedd: (constraint or \"\"); the checkpoint servers' ads (MyType \"CkptServer\"); reply MACHINES_REPLY") \
	/* fair share (schedd; docs/pool.md, `pool userprio`) */                                          \
	X(USERPRIO, 60, "(u)", "client -> schedd: (0, reserved); reply USERPRIO_REPLY")                      \
	X(USERPRIO_REPLY, 61, "(a(sdxxxx)xd)",                                                               \
	  "schedd -> client: (per user in the order the negotiator serves them: (owner, usage in seconds "  \
	  "decayed to now, last charge or 0, jobs running, idle, held), now, usage half-life in seconds)")   \
	/* claim reuse (shadow -> startd; docs/running-jobs.md, "Claim reuse") */                            \
	X(CLAIM_NEXT, 70, "(sa(ss))",                                                                        \
	  "shadow -> startd: (claim id, next job ad): the claim's finished job is cleared and the next one "  \
	  "takes its place if Start holds and claim_worklife allows; then ACTIVATE; reply CLAIM_REPLY")  \
	X(ACTIVATE_CACHED, 71, "(sssa(suay))",                                                               \
	  "shadow -> startd: (claim id, executable name, its SHA-256 in hex, the other files): ACTIVATE with " \
	  "an executable the startd keeps; NOT_FOUND if it does not (then ACTIVATE); reply ACTIVATE_REPLY") \
	/* job leases and reconnection (shadow -> startd; docs/running-jobs.md, "Schedd restarts") */     \
	X(CLAIM_DISCONNECT, 90, "(s)",                                                                       \
	  "shadow -> startd: (claim id): the shadow's schedd is gone; keep the job for its job lease "       \
	  "(JobLeaseDuration) for a new shadow to reconnect; reply CLAIM_REPLY")                            \
	X(CLAIM_RECONNECT, 91, "(sxx)",                                                                      \
	  "shadow -> startd: (claim id, cluster, proc): a new shadow takes over the claim and its job; "      \
	  "reply CLAIM_RECONNECT_REPLY")                                                                   \
	X(CLAIM_RECONNECT_REPLY, 92, "(sxxx)",                                                               \
	  "startd -> shadow: (state: claimed|running|suspended|vacating|exited, job pid, job start time, "  \
	  "seconds the claim went without a shadow)")
