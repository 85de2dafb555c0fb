#!/bin/sh
# ckpt-cc: compile and link a program with libckpt built in (relinked
# mode), in the spirit of condor_compile.
#
#   ckpt-cc gcc -O2 -o prog prog.c
#   ckpt-cc gcc -static -o prog prog.o
#
# Adds the libckpt include directory, and when the command links (no -c,
# -S or -E), the whole of libckpt.a.  The program then checkpoints itself
# on SIGUSR2 / SIGTSTP (or through kite/ckpt.h) with images in
# $KITE_CKPT_DIR (default ./kite-ckpt), with or without `ckpt run`.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: ckpt-cc CC [ARGS...]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
lib=${KITE_LIBCKPT_A:-$here/../lib/libckpt.a}
inc=${KITE_CKPT_INCLUDE:-$here/../include}
if [ ! -r "$lib" ]; then
	echo "ckpt-cc: cannot find libckpt.a at $lib; set KITE_LIBCKPT_A" >&2
	exit 1
fi
link=1
for a in "$@"; do
	case $a in
	-c | -S | -E | -M | -MM) link=0 ;;
	esac
done
cc=$1
shift
if [ $link = 1 ]; then
	exec "$cc" -I"$inc" "$@" -Wl,--whole-archive "$lib" -Wl,--no-whole-archive \
		-Wl,--export-dynamic-symbol=kite_ckpt_relinked
else
	exec "$cc" -I"$inc" "$@"
fi
