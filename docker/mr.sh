#!/bin/sh
# `mr` inside the image: the compiled CLI on the image's Node.
exec node /app/dist/engine/cli/main.js "$@"
