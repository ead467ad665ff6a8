package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lapse-dev/lapse/serving"
)

// maxUsersFile bounds the size of a --users file (64 MiB: a million ids).
const maxUsersFile = 64 << 20

// readUserIDs reads the user ids of a --users file. Two forms are read:
//
//   - a CSV file whose first non-blank line is a header with a user_id
//     column (an assignments.csv, a segment export, lapse score --out):
//     the ids are that column;
//   - otherwise a plain list: one id per line, trimmed of surrounding
//     space and of a UTF-8 byte-order mark.
//
// Blank lines and lines starting with # are skipped in both. Every id must
// pass serving.CheckID; the first bad line is reported as name:line.
// Duplicates are kept (the experiment counts and drops them).
func readUserIDs(r io.Reader, name string) ([]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxUsersFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxUsersFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxUsersFile>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := bufio.NewScanner(bytes.NewReader(data))
	lines.Buffer(make([]byte, 64<<10), maxUsersFile)
	first := ""
	for lines.Scan() {
		if l := strings.TrimSpace(lines.Text()); l != "" && !strings.HasPrefix(l, "#") {
			first = l
			break
		}
	}
	if first == "" {
		return nil, fmt.Errorf("%s: no user ids", name)
	}
	if strings.Contains(first, ",") {
		if hdr, err := csv.NewReader(strings.NewReader(first)).Read(); err == nil {
			for i, h := range hdr {
				if strings.TrimSpace(h) == "user_id" {
					return csvUserIDs(data, name, i)
				}
			}
		}
	} else if first == "user_id" {
		return csvUserIDs(data, name, 0)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxUsersFile)
	for line := 1; sc.Scan(); line++ {
		id := strings.TrimSpace(sc.Text())
		if id == "" || strings.HasPrefix(id, "#") {
			continue
		}
		if err := serving.CheckID("user id", id); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ids, nil
}

// csvUserIDs reads column col of a CSV file with a header.
func csvUserIDs(data []byte, name string, col int) ([]string, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	if _, err := cr.Read(); err != nil { // the header
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var ids []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if col >= len(rec) {
			return nil, fmt.Errorf("%s:%d: %d fields, no user_id column", name, line, len(rec))
		}
		id := strings.TrimSpace(rec[col])
		if err := serving.CheckID("user id", id); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no user ids under the user_id header", name)
	}
	return ids, nil
}
