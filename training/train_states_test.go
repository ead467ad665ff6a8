package training

import (
	"bytes"
	"context"
	"testing"

	"github.com/lapse-dev/lapse/features"
)

// With Config.States, every scored user's State as of T comes back
// parallel to the scores, byte for byte the State a streaming Builder at T
// keeps for the same events; without it there are none.
func TestTrainStates(t *testing.T) {
	trSkipUnderRace(t)
	evs := trSynthEvents(t, 400, 200, 31)
	log := trLog(t, evs)
	cfg := &Config{Horizon: 28 * trDay, Seed: 3, Workers: 2, MinUsers: 100, MinClass: 10, Now: trFixedNow, States: true}
	res, err := Train(context.Background(), log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.States) == 0 || len(res.States) != len(res.Scores) {
		t.Fatalf("%d states for %d scores", len(res.States), len(res.Scores))
	}
	b, err := features.NewBuilder(features.BuilderConfig{Cutoff: res.Model.AsOf, Spec: tvSpec(t, res.Model)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if err := b.Add(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, us := range res.States {
		if us.UserID != res.Scores[i].UserID {
			t.Fatalf("state %d is of %q, score of %q", i, us.UserID, res.Scores[i].UserID)
		}
		want, ok := b.State(us.UserID)
		if !ok {
			t.Fatalf("no streaming state for %s", us.UserID)
		}
		got, err := us.State.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		wb, _ := want.MarshalBinary()
		if !bytes.Equal(got, wb) {
			t.Fatalf("state of %s differs from the streaming Builder's", us.UserID)
		}
	}
	cfg.States = false
	res, err = Train(context.Background(), log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.States != nil {
		t.Errorf("%d states without Config.States", len(res.States))
	}
}
