package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// output is a file being written by a command. Data goes to a temporary file
// next to the destination, which Commit renames into place, so a failed or
// interrupted run never leaves a half-written file under the requested name.
// The path "-" writes to stdout instead. Names ending in .gz are compressed.
type output struct {
	io.Writer
	path  string
	tmp   *os.File
	buf   *bufio.Writer
	gz    *gzip.Writer
	done  bool
	isStd bool
}

// createOutput opens path for writing ("-" is stdout).
func createOutput(path string, stdout io.Writer) (*output, error) {
	o := &output{path: path}
	var w io.Writer
	if path == "-" {
		o.isStd = true
		w = stdout
	} else {
		dir, base := filepath.Split(path)
		if dir == "" {
			dir = "."
		}
		tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		o.tmp = tmp
		w = tmp
	}
	o.buf = bufio.NewWriterSize(w, 256<<10)
	o.Writer = o.buf
	if strings.HasSuffix(path, ".gz") {
		o.gz = gzip.NewWriter(o.buf)
		o.Writer = o.gz
	}
	return o, nil
}

// Commit flushes everything and moves the file into place.
func (o *output) Commit() error {
	if o.done {
		return errors.New("output already closed")
	}
	o.done = true
	var err error
	if o.gz != nil {
		err = o.gz.Close()
	}
	if e := o.buf.Flush(); err == nil {
		err = e
	}
	if o.isStd {
		if err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
		return nil
	}
	if err == nil {
		err = o.tmp.Chmod(0o644)
	}
	if err == nil {
		err = o.tmp.Sync()
	}
	if e := o.tmp.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(o.tmp.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.tmp.Name())
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	return nil
}

// Abort discards the output; it is a no-op after Commit.
func (o *output) Abort() {
	if o.done {
		return
	}
	o.done = true
	if o.tmp != nil {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
	}
}
