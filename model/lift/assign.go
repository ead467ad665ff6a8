package lift

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"slices"
	"sync"
)

// Group is the arm of an experiment a user belongs to. Its string value is
// the one written in assignments.csv and in JSON.
type Group string

const (
	// Treatment is the group that receives the campaign.
	Treatment Group = "treatment"
	// Control is the held-out group that does not receive the campaign.
	Control Group = "control"
)

// ParseGroup returns the Group named by s: "treatment" or "control",
// exactly (as in assignments.csv).
func ParseGroup(s string) (Group, error) {
	switch g := Group(s); g {
	case Treatment, Control:
		return g, nil
	}
	return "", fmt.Errorf("lift: parse group %q: want %q or %q", s, Treatment, Control)
}

// Domain-separation prefixes of the HMAC key. They make the key of an
// experiment differ from the key of the global control group for every
// possible experiment name and salt.
const (
	domainExperiment    = "lapse/experiment/v1\x00"
	domainGlobalControl = "lapse/global-control/v1\x00"
)

// Assigner maps user ids to uniform numbers in [0, 1) with HMAC-SHA256
// keyed by an experiment name and a salt. The zero value is not usable;
// create one with NewAssigner or NewGlobalControl. An Assigner is safe for
// concurrent use; it keeps a pool of keyed hashes, so reuse one for many
// users.
type Assigner struct {
	pool sync.Pool // of *macState
}

// macState is one keyed HMAC with scratch space, reused through the pool.
type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewAssigner returns the Assigner of an experiment. The HMAC key is
//
//	"lapse/experiment/v1\x00" || uvarint(len(experiment)) || experiment || salt
//
// so different (experiment, salt) pairs give different keys.
func NewAssigner(experiment, salt string) *Assigner {
	return newAssigner(domainExperiment, experiment, salt)
}

// NewGlobalControl returns the Assigner of the global control group for a
// salt: InGlobalControl(salt, u, share) is NewGlobalControl(salt).Unit(u) <
// share. Use it to filter many users.
func NewGlobalControl(salt string) *Assigner {
	return newAssigner(domainGlobalControl, "", salt)
}

func newAssigner(domain, name, salt string) *Assigner {
	key := make([]byte, 0, len(domain)+binary.MaxVarintLen64+len(name)+len(salt))
	key = append(key, domain...)
	key = binary.AppendUvarint(key, uint64(len(name)))
	key = append(key, name...)
	key = append(key, salt...)
	a := new(Assigner)
	a.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return a
}

// mac returns HMAC-SHA256(key, userID) (RFC 2104).
func (a *Assigner) mac(userID string) [sha256.Size]byte {
	s := a.pool.Get().(*macState)
	s.h.Reset()
	s.buf = append(s.buf[:0], userID...)
	s.h.Write(s.buf)
	out := [sha256.Size]byte(s.h.Sum(s.sum[:0]))
	if cap(s.buf) > 1<<10 {
		s.buf = nil // don't keep a huge id's buffer alive in the pool
	}
	a.pool.Put(s)
	return out
}

// Unit returns the user's uniform number in [0, 1): the first 64 bits of
// HMAC-SHA256(key, userID) read big-endian, of which the top 53 are scaled
// by 2^-53 so that every value is exactly representable and below 1.
func (a *Assigner) Unit(userID string) float64 {
	m := a.mac(userID)
	return float64(binary.BigEndian.Uint64(m[:8])>>11) * 0x1p-53
}

// Group returns Control when the user's Unit is below holdout, else
// Treatment. A holdout of 0 or less puts everyone in Treatment, 1 or more
// everyone in Control, and NaN everyone in Treatment; check shares with
// CheckShare first.
func (a *Assigner) Group(userID string, holdout float64) Group {
	if a.Unit(userID) < holdout {
		return Control
	}
	return Treatment
}

// Assign returns the group of a user in an experiment with the given
// control share (holdout). It depends only on its arguments, so a user
// lands in the same group across restarts and machines, and the splits of
// two experiments (or two salts) are independent. Raising the holdout only
// moves users from Treatment to Control. Assign is NewAssigner(experiment,
// salt).Group(userID, holdout); use an Assigner for many users.
func Assign(experiment, salt, userID string, holdout float64) Group {
	return NewAssigner(experiment, salt).Group(userID, holdout)
}

// InGlobalControl reports whether the user belongs to the global control
// group of the given share: users held out of every campaign. The key is
// domain-separated from every experiment key, so membership is independent
// of all experiments. For a fixed salt the group only grows with the
// share: a user in the global control at share s is in it at every larger
// share.
func InGlobalControl(salt, userID string, share float64) bool {
	return NewGlobalControl(salt).Unit(userID) < share
}

// CheckShare returns an error wrapping ErrShare unless share is in [0, 1].
// what names the share in the message, e.g. "holdout".
func CheckShare(what string, share float64) error {
	if !(share >= 0 && share <= 1) {
		return fmt.Errorf("lift: %s %v: %w: want a value in [0, 1]", what, share, ErrShare)
	}
	return nil
}

// Member is a user with a stratum label (e.g. a risk band) for stratified
// assignment.
type Member struct {
	UserID  string
	Stratum string
}

// AssignStratified assigns members so that each stratum has exactly
// round(holdout·n) control users, where n is the stratum size (math.Round,
// halves away from zero), and returns the groups in input order.
//
// Within a stratum, members are ranked by their Unit in the experiment (ties,
// which need a 53-bit collision, broken by user id) and the first
// round(holdout·n) become Control. The result depends only on the set of
// members, not on their order, and matches the plain Assign rule with a
// per-stratum threshold: every control member ranks below every treatment
// member of its stratum.
//
// Unlike Assign, the group of a member can change when members are added to
// its stratum later, because the count round(holdout·n) moves; store the
// assignments when the experiment is created.
func AssignStratified(experiment, salt string, members []Member, holdout float64) ([]Group, error) {
	if err := CheckShare("holdout", holdout); err != nil {
		return nil, err
	}
	a := NewAssigner(experiment, salt)
	type ranked struct {
		i int
		u float64
	}
	strata := make(map[string][]ranked)
	seen := make(map[string]struct{}, len(members))
	for i, m := range members {
		if _, dup := seen[m.UserID]; dup {
			return nil, fmt.Errorf("lift: assign stratified: user %q: %w", m.UserID, ErrDuplicateUser)
		}
		seen[m.UserID] = struct{}{}
		strata[m.Stratum] = append(strata[m.Stratum], ranked{i, a.Unit(m.UserID)})
	}
	groups := make([]Group, len(members))
	for _, rs := range strata {
		slices.SortFunc(rs, func(x, y ranked) int {
			if c := cmp.Compare(x.u, y.u); c != 0 {
				return c
			}
			return cmp.Compare(members[x.i].UserID, members[y.i].UserID)
		})
		k := int(math.Round(holdout * float64(len(rs))))
		for j, r := range rs {
			if j < k {
				groups[r.i] = Control
			} else {
				groups[r.i] = Treatment
			}
		}
	}
	return groups, nil
}
