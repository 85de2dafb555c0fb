/* fuzz-image-check.c — the check `ckpt restart` runs on a server image
 * as its bytes arrive (kite_image_check_feed, common/ckpt-format.c): any
 * bytes, in pieces of any size, never crash it, and the verdict does not
 * depend on how the bytes were cut (the first input byte picks the piece
 * size). */
#include "fuzz.h"

#include "ckpt-format.h"

static gboolean check(const uint8_t *data, size_t size, size_t step)
{
	KiteImageCheck c;
	kite_image_check_init(&c);
	for (size_t at = 0; at < size; at += step)
		kite_image_check_feed(&c, data + at, MIN(step, size - at));
	return kite_image_check_passed(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 97;
	data++, size--;
	gboolean whole = check(data, size, size ? size : 1);
	gboolean pieces = check(data, size, step);
	kite_fuzz_require(whole == pieces, "the verdict is the same whole and in pieces of %zu (%d vs %d)", step,
			  whole, pieces);
	return 0;
}
