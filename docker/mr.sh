#!/bin/sh
# `mr` inside the image: the compiled CLI, run through its shebang (node and the options mr needs).
exec /app/dist/cli/main.js "$@"
