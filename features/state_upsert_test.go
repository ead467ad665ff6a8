package features

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestUpsertKeepsCellsSorted feeds upsert mostly time-sorted cells (the
// fast path scans back over the last day) with out-of-order days and types
// mixed in, and compares the cells with a plain aggregation.
func TestUpsertKeepsCellsSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		var s State
		type key struct {
			day int32
			typ uint16
		}
		want := map[key]cell{}
		day := int32(20000)
		for range 300 {
			switch r := rng.IntN(10); {
			case r < 6: // same day, any type
			case r < 9:
				day += int32(rng.IntN(3))
			default: // a late event
				day -= int32(rng.IntN(5))
			}
			typ := uint16(rng.IntN(6))
			rev := int64(rng.IntN(100))
			s.upsert(day, typ, 1, rev, 0)
			c := want[key{day, typ}]
			c.day, c.typ, c.n, c.nneg, c.rev = day, typ, c.n+1, c.nneg+1, c.rev+rev
			want[key{day, typ}] = c
		}
		var w []cell
		for _, c := range want {
			w = append(w, c)
		}
		slices.SortFunc(w, func(a, b cell) int {
			if c := cmp.Compare(a.day, b.day); c != 0 {
				return c
			}
			return cmp.Compare(a.typ, b.typ)
		})
		if !slices.Equal(s.cells, w) {
			t.Fatalf("trial %d: cells\n%v\nwant\n%v", trial, s.cells, w)
		}
	}
}
