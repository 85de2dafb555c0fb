/* Linked into relinked programs only (lib/libckpt.a): tells a preloaded
 * libckpt.so that the program carries its own runtime, so that the two do
 * not both install handlers. */
__attribute__((visibility("default"))) const int kite_ckpt_relinked = 1;
