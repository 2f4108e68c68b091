package main

// The compose-go release this checker is built with; deploy/debian/setup.sh rebuilds when it changes.
const composeGoVersion = "compose-go/v2 v2.16.2"
