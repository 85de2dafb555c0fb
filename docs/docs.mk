# docs/: user and admin guide (Markdown).  Nothing to build.
