package training

import (
	"encoding/binary"
	"hash/fnv"
	"time"

	"github.com/lapse-dev/lapse/features"
)

// Roles of a user in the pipeline, fixed by a keyed hash of the user id
// (see userRole). A user keeps the same role in every snapshot, so rows of
// one person at different cutoffs never sit on both sides of a split.
type userRole uint8

const (
	// roleFit users' rows fit the classifiers (60% of users).
	roleFit userRole = iota
	// roleHeldOut users are never fitted on: the held-out-user check (20%).
	roleHeldOut
	// roleTune users' rows stop GBDT early, tune the logistic λ and fit the
	// calibration (10%).
	roleTune
	// roleSelect users' rows choose the calibration method and the
	// classifier kind by log loss (10%).
	roleSelect
)

// Shares of the user roles: [0, .2) held out, [.2, .3) tune, [.3, .4)
// select, [.4, 1) fit.
const (
	heldOutShare = 0.2
	tuneEnd      = 0.3
	selectEnd    = 0.4
)

// userUnit maps a user id to a number in [0, 1): FNV-64a of the seed (8
// bytes, little endian) followed by the id, then the SplitMix64 finaliser
// (FNV alone barely moves its high bits when ids differ only in the last
// characters, as "u001", "u002" do). The map is fixed by the seed alone, so
// the same user lands in the same role in every run and snapshot.
func userUnit(id string, seed uint64) float64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(id))
	// 53 high bits give an exactly representable float in [0, 1).
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}

// roleOf returns the role of user id under seed.
func roleOf(id string, seed uint64) userRole {
	u := userUnit(id, seed)
	switch {
	case u < heldOutShare:
		return roleHeldOut
	case u < tuneEnd:
		return roleTune
	case u < selectEnd:
		return roleSelect
	}
	return roleFit
}

// snapshot is one labelled cutoff: the dataset and the role of each row.
type snapshot struct {
	cutoff time.Time
	ds     *features.Dataset
	roles  []userRole // parallel to ds.Vectors
}

// rowRef addresses one row: snapshot s, vector i.
type rowRef struct {
	s, i int32
}

// rowSet is a selection of rows from several snapshots, with the matrix of
// their raw feature values and both labels.
type rowSet struct {
	refs  []rowRef
	x     Matrix
	churn []float64
	prop  []float64
	// total is the number of rows the set was sampled from (evalSet);
	// len(refs) when it was not.
	total int
}

// label returns the labels of the target ("churn" or "propensity").
func (r *rowSet) label(target string) []float64 {
	if target == targetChurn {
		return r.churn
	}
	return r.prop
}

// positives counts the rows with label 1 for target.
func (r *rowSet) positives(target string) int {
	n := 0
	for _, v := range r.label(target) {
		if v == 1 {
			n++
		}
	}
	return n
}

// selectRows returns the rows of snaps (indices into snaps) that keep
// accepts, ordered by snapshot, then by user id.
func selectRows(snaps []*snapshot, which []int, keep func(s *snapshot, i int) bool) []rowRef {
	n := 0
	for _, k := range which {
		s := snaps[k]
		for i := range s.ds.Vectors {
			if keep(s, i) {
				n++
			}
		}
	}
	refs := make([]rowRef, 0, n)
	for _, k := range which {
		s := snaps[k]
		for i := range s.ds.Vectors {
			if keep(s, i) {
				refs = append(refs, rowRef{int32(k), int32(i)})
			}
		}
	}
	return refs
}

// rowsOf builds the rowSet of refs, in that order: their raw feature values
// and both labels, copied on workers goroutines.
func rowsOf(snaps []*snapshot, refs []rowRef, workers int) *rowSet {
	cols := 0
	if len(snaps) > 0 {
		cols = len(snaps[0].ds.Spec.Features)
	}
	r := &rowSet{
		refs:  refs,
		x:     NewMatrix(len(refs), cols),
		churn: make([]float64, len(refs)),
		prop:  make([]float64, len(refs)),
		total: len(refs),
	}
	parallelRows(len(refs), workers, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			ref := refs[row]
			s := snaps[ref.s]
			copy(r.x.Data[row*cols:(row+1)*cols], s.ds.Vectors[ref.i].Values)
			r.churn[row] = b2f(s.ds.Churn[ref.i])
			r.prop[row] = b2f(s.ds.Propensity[ref.i])
		}
	})
	return r
}

// userID returns the user of row ref.
func userID(snaps []*snapshot, ref rowRef) string {
	return snaps[ref.s].ds.Vectors[ref.i].UserID
}

// byRole returns a keep function for gather that accepts the rows whose
// user has one of roles and is not excluded.
func byRole(excluded map[string]bool, roles ...userRole) func(s *snapshot, i int) bool {
	return func(s *snapshot, i int) bool {
		if excluded != nil && excluded[s.ds.Vectors[i].UserID] {
			return false
		}
		for _, r := range roles {
			if s.roles[i] == r {
				return true
			}
		}
		return false
	}
}

// allRows accepts every row.
func allRows(*snapshot, int) bool { return true }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
