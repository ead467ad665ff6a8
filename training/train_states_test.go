package training

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/lapse-dev/lapse/features"
)

// trStatesConfig is a small Train config with the given Replay.
func trStatesConfig(replay func(ctx context.Context, fn func(e *features.Event) error) error) *Config {
	return &Config{Horizon: 28 * trDay, Seed: 3, Workers: 2, MinUsers: 100, MinClass: 10, Now: trFixedNow, Replay: replay}
}

// The replay runs alongside training: its States are those of a replay
// that owns its strings even when the events' user ids and names live in
// one buffer the replay overwrites (as a reader that reuses its line buffer
// would give), and a failing replay fails Train.
func TestTrainReplayStates(t *testing.T) {
	trSkipUnderRace(t)
	evs := trSynthEvents(t, 400, 200, 31)
	log := trLog(t, evs)
	clean := func(ctx context.Context, fn func(e *features.Event) error) error {
		for i := range evs {
			e := evs[i]
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	}
	buf := make([]byte, 256)
	reused := func(ctx context.Context, fn func(e *features.Event) error) error {
		for i := range evs {
			e := evs[i]
			n := copy(buf, e.UserID)
			m := copy(buf[n:], e.Name)
			e.UserID = unsafe.String(&buf[0], n)
			e.Name = unsafe.String(&buf[n], m)
			if err := fn(&e); err != nil {
				return err
			}
			for j := range buf[:n+m] {
				buf[j] = '#' // what the next line would overwrite
			}
		}
		return nil
	}
	encode := func(res *Result) [][]byte {
		out := make([][]byte, len(res.States))
		for i, us := range res.States {
			if us.UserID != res.Scores[i].UserID || strings.Contains(us.UserID, "#") {
				t.Fatalf("state %d is of %q, score of %q", i, us.UserID, res.Scores[i].UserID)
			}
			b, err := us.State.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			out[i] = b
		}
		return out
	}
	a, err := Train(context.Background(), log, trStatesConfig(clean))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), log, trStatesConfig(reused))
	if err != nil {
		t.Fatal(err)
	}
	ea, eb := encode(a), encode(b)
	if len(ea) == 0 || len(ea) != len(eb) {
		t.Fatalf("%d and %d states", len(ea), len(eb))
	}
	for i := range ea {
		if !bytes.Equal(ea[i], eb[i]) {
			t.Fatalf("state of %s differs with a reused buffer", a.States[i].UserID)
		}
	}

	boom := errors.New("disk gone")
	failing := func(ctx context.Context, fn func(e *features.Event) error) error {
		for i := range 100 {
			if err := fn(&evs[i]); err != nil {
				return err
			}
		}
		return boom
	}
	if _, err := Train(context.Background(), log, trStatesConfig(failing)); !errors.Is(err, boom) || !strings.Contains(err.Error(), "replay") {
		t.Errorf("failing replay: %v", err)
	}
}

// A Train that fails its data checks stops the replay it started and
// waits for it: nothing runs on after Train returns.
func TestTrainReplayStoppedOnError(t *testing.T) {
	evs := trSynthEvents(t, 300, 200, 32)
	var started, done atomic.Bool
	blocking := func(ctx context.Context, fn func(e *features.Event) error) error {
		started.Store(true)
		defer done.Store(true)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return errors.New("replay was not stopped")
		}
	}
	cfg := trStatesConfig(blocking)
	cfg.MinUsers = 1_000_000
	start := time.Now()
	_, err := Train(context.Background(), trLog(t, evs), cfg)
	var de *DataError
	if !errors.As(err, &de) {
		t.Fatalf("want a DataError, got %v", err)
	}
	if !started.Load() || !done.Load() {
		t.Errorf("replay started %v, over when Train returned %v", started.Load(), done.Load())
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Train took %v", d)
	}
}
