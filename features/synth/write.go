package synth

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Format is an output encoding for Write.
type Format uint8

// The output encodings. Both use lapse's canonical columns user_id, event,
// timestamp (RFC 3339 in UTC, one-second resolution) and amount.
const (
	// CSV writes a header row and one row per event; amount is empty when zero.
	CSV Format = iota
	// JSONL writes one JSON object per line; amount is omitted when zero.
	JSONL
)

// String returns the format's name as used by `lapse gen`.
func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// Summary describes a written history.
type Summary struct {
	Events int64            // rows written, header excluded
	Users  int              // users with at least one event
	ByType map[string]int64 // rows per event type
	First  time.Time        // time of the first event (zero when none)
	Last   time.Time        // time of the last event (zero when none)
}

// flushAt is the buffered size at which Write hands bytes to w.
const flushAt = 60 << 10

// Write generates the history described by cfg (nil means DefaultConfig) and
// streams it to w in format f, in time order. It checks ctx once per
// simulated day. On error the output is truncated at a row boundary of some
// earlier day.
func Write(ctx context.Context, w io.Writer, cfg *Config, f Format) (Summary, error) {
	if f != CSV && f != JSONL {
		return Summary{}, fmt.Errorf("synth: unknown format %d", f)
	}
	g, err := New(cfg)
	if err != nil {
		return Summary{}, err
	}
	var (
		sum     Summary
		byKind  [numKinds]int64
		seen    = make([]bool, len(g.users))
		buf     = make([]byte, 0, flushAt+4096)
		first   = true
		lastSec int32
	)
	if f == CSV {
		buf = append(buf, "user_id,event,timestamp,amount\n"...)
	}
	for g.step() {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("synth: day %d: %w", g.curDay, err)
		}
		prefix := g.cfg.Start.AddDate(0, 0, g.curDay).AppendFormat(nil, "2006-01-02T")
		for _, e := range g.sorted {
			u := &g.users[e.user]
			if !seen[e.user] {
				seen[e.user] = true
				sum.Users++
			}
			byKind[e.kind]++
			if first {
				sum.First = g.cfg.Start.AddDate(0, 0, g.curDay).Add(time.Duration(e.sec) * time.Second)
				first = false
			}
			lastSec = e.sec
			if f == CSV {
				buf = append(buf, u.id...)
				buf = append(buf, ',')
				buf = append(buf, eventNames[e.kind]...)
				buf = append(buf, ',')
				buf = append(buf, prefix...)
				buf = appendClock(buf, e.sec)
				buf = append(buf, ',')
				if e.amount != 0 {
					buf = strconv.AppendFloat(buf, e.amount, 'f', 2, 64)
				}
				buf = append(buf, '\n')
			} else {
				buf = append(buf, `{"user_id":"`...)
				buf = append(buf, u.id...)
				buf = append(buf, `","event":"`...)
				buf = append(buf, eventNames[e.kind]...)
				buf = append(buf, `","timestamp":"`...)
				buf = append(buf, prefix...)
				buf = appendClock(buf, e.sec)
				buf = append(buf, '"')
				if e.amount != 0 {
					buf = append(buf, `,"amount":`...)
					buf = strconv.AppendFloat(buf, e.amount, 'f', 2, 64)
				}
				buf = append(buf, "}\n"...)
			}
			if len(buf) >= flushAt {
				if _, err := w.Write(buf); err != nil {
					return sum, fmt.Errorf("synth: write: %w", err)
				}
				buf = buf[:0]
			}
		}
		if len(g.sorted) > 0 {
			sum.Last = g.cfg.Start.AddDate(0, 0, g.curDay).Add(time.Duration(lastSec) * time.Second)
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return sum, fmt.Errorf("synth: write: %w", err)
		}
	}
	sum.ByType = make(map[string]int64, numKinds)
	for k, n := range byKind {
		sum.Events += n
		if n > 0 {
			sum.ByType[eventNames[k]] = n
		}
	}
	return sum, nil
}

// appendClock appends "hh:mm:ssZ" for second s of a day.
func appendClock(b []byte, s int32) []byte {
	h, m, sec := s/3600, s/60%60, s%60
	return append(b,
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), 'Z')
}
