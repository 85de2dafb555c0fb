# libckpt/: transparent checkpoint/restart (see libckpt/README.md).
# Nothing is built here yet; the libckpt issue adds its rules.
