#!/bin/sh
HOST="${HOST:-0.0.0.0}"
exec node server.js --host "$HOST"
