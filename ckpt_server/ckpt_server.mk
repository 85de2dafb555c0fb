# ckpt_server/: see ../shared/DESIGN.md §1 and docs/architecture.md.  Nothing is
# built here yet; the issue that delivers ckpt_server adds its sources and rules.
