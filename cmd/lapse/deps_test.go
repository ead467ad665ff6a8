package main

// The four modules the product fixes are pinned in go.mod. Packages that are
// not yet imported by production code are kept in the build graph here so
// that `go mod tidy` keeps them and `go build ./...` proves they compile.
import (
	_ "github.com/gin-gonic/gin"
	_ "github.com/sjwhitworth/golearn/base"
	_ "go.etcd.io/bbolt"
	_ "gonum.org/v1/gonum/mat"
)
