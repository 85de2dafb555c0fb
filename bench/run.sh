#!/bin/bash
# Run every benchmark under bench/ (make bench).  Each prints its figures
# beside their targets; record them in bench/README.md.
cd "$(dirname "$0")"
rc=0
for b in queue.sh ckpt.sh ckpt_server.sh pool.sh evict.sh sandbox.sh reconnect.sh; do
	[ -x "$b" ] || continue
	echo "== bench/$b"
	./"$b" || rc=1
done
exit $rc
