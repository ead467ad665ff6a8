package features

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Vector is one user's feature values at a cutoff, in the order of
// Spec.Names. Values are raw: the model applies the transforms.
type Vector struct {
	UserID string
	Values []float64
}

// Featurizer computes feature vectors from States under one Spec. It is
// immutable once made and safe for concurrent use (the States are not).
type Featurizer struct {
	spec      *Spec
	cls       *classes
	names     []string
	nW        int
	wmax      int32
	retention int32
	elig      int32
	kOfAge    []uint16 // for age 0..retention: index of the first window >= age, nW when none
	vocab     map[string]int32
	fam       map[string]uint8 // intent family flags by event name
	famOn     [4]bool
	famOff    [4]int // column of each family's 7-day feature, -1 when off

	// Column offsets.
	oEvents, oActive, oEventsTotal, oRev, oOrders, oRef, oRevTotal int
	oUsage, oDistinct, oTrend, oWeekend, dim                       int
}

// famBits are the flags of the four intent families, in Spec.families order.
var famBits = [4]uint8{flagCart, flagPricing, flagCancel, flagSupport}

// typeInfo is how a Featurizer treats one event type: its usage column (the
// vocabulary index, or the vocabulary size for other) and its flags.
type typeInfo struct {
	col   int32
	flags uint8
}

// NewFeaturizer validates spec and prepares vector computation. The
// Featurizer keeps its own copy of spec.
func NewFeaturizer(spec *Spec) (*Featurizer, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	s := spec.Clone()
	f := &Featurizer{
		spec:      s,
		cls:       newClasses(s),
		names:     s.Names(),
		nW:        len(s.Windows),
		wmax:      s.maxWindow(),
		retention: s.retentionDays(),
		elig:      int32(s.EligibilityDays),
		vocab:     make(map[string]int32, len(s.Vocabulary)),
		fam:       make(map[string]uint8),
	}
	f.kOfAge = make([]uint16, f.retention+1)
	for a := range f.kOfAge {
		k := 0
		for k < f.nW && s.Windows[k] < a {
			k++
		}
		f.kOfAge[a] = uint16(k)
	}
	for i, t := range s.Vocabulary {
		f.vocab[t] = int32(i)
	}
	for j, fm := range s.families() {
		f.famOn[j] = len(fm.events) > 0
		for _, n := range fm.events {
			f.fam[n] |= famBits[j]
		}
	}
	nW, nT := f.nW, len(s.Vocabulary)+1
	col := 4 // recency_days, recency_purchase_days, ever_purchased, tenure_days
	f.oEvents = col
	f.oActive = col + nW
	f.oEventsTotal = col + 2*nW
	col += 2*nW + 1
	f.oRev, f.oOrders, f.oRef = col, col+nW, col+2*nW
	f.oRevTotal = col + 3*nW // revenue_total, orders_total, aov
	col += 3*nW + 3
	f.oUsage = col
	col += nT * nW
	f.oDistinct = col
	col += nW
	f.oTrend = col // trend_30d, gap_mean_days, gap_std_days, overdue, prev_gap_days
	col += 5
	for j := range f.famOff {
		f.famOff[j] = -1
		if f.famOn[j] {
			f.famOff[j] = col
			col += 2
		}
	}
	f.oWeekend = col // weekend_share, peak_hour
	f.dim = col + 2
	if f.dim != len(f.names) {
		panic(fmt.Sprintf("features: featurizer has %d columns for %d names", f.dim, len(f.names)))
	}
	return f, nil
}

// Spec returns a copy of the Spec f computes.
func (f *Featurizer) Spec() *Spec { return f.spec.Clone() }

// Names returns the feature names, in vector order.
func (f *Featurizer) Names() []string { return slices.Clone(f.names) }

// Len returns the number of features.
func (f *Featurizer) Len() int { return f.dim }

// NewState returns an empty State bound to f's Spec, with its own type table.
func (f *Featurizer) NewState() *State {
	s := &State{}
	tab := newTypeTable(f.cls)
	tab.owner = s
	s.reset(tab, math.MinInt32)
	return s
}

// info classifies one event name.
func (f *Featurizer) info(name string) typeInfo {
	col, ok := f.vocab[name]
	if !ok {
		col = int32(len(f.spec.Vocabulary))
	}
	return typeInfo{col: col, flags: f.cls.flags(name) | f.fam[name]}
}

// lut classifies every type of tab, reusing buf.
func (f *Featurizer) lut(tab *typeTable, buf []typeInfo) []typeInfo {
	buf = buf[:0]
	if tab == nil {
		return buf
	}
	for _, n := range tab.names {
		buf = append(buf, f.info(n))
	}
	return buf
}

// check verifies that st can be vectorised at unix-ns cutoff tn.
func (f *Featurizer) check(st *State, tn int64) error {
	if (st.has != 0 || len(st.cells) > 0) && (st.fp != f.cls.fp || st.retention != f.retention) {
		return fmt.Errorf("features: vector: %w", ErrSpecMismatch)
	}
	if st.has&hasAny != 0 && st.maxTime >= tn {
		return fmt.Errorf("features: vector at %v: last event at %v: %w",
			time.Unix(0, tn).UTC(), time.Unix(0, st.maxTime).UTC(), ErrAfterCutoff)
	}
	if int64(st.foldDay) > int64(cutoffDay(tn))-int64(f.retention) {
		return fmt.Errorf("features: vector at %v: %w", time.Unix(0, tn).UTC(), ErrPruned)
	}
	return nil
}

// Vector returns the feature vector of st at cutoff. See AppendVector.
func (f *Featurizer) Vector(st *State, cutoff time.Time) ([]float64, error) {
	return f.AppendVector(make([]float64, 0, f.dim), st, cutoff)
}

// AppendVector appends the feature vector of st at cutoff to dst. It fails
// with ErrAfterCutoff when st holds an event at or after cutoff, ErrPruned
// when st was pruned after cutoff's day, and ErrSpecMismatch when st was
// built under a Spec that classifies events differently.
func (f *Featurizer) AppendVector(dst []float64, st *State, cutoff time.Time) ([]float64, error) {
	tn, err := timeNanos(cutoff)
	if err != nil {
		return dst, fmt.Errorf("features: vector at %v: %w", cutoff, err)
	}
	if err := f.check(st, tn); err != nil {
		return dst, err
	}
	var buf [32]typeInfo
	return f.vector(dst, st, tn, f.lut(st.tab, buf[:0])), nil
}

// Eligible reports whether st has an activity event with age 1..L days at
// cutoff (L = EligibilityDays). It fails like AppendVector.
func (f *Featurizer) Eligible(st *State, cutoff time.Time) (bool, error) {
	tn, err := timeNanos(cutoff)
	if err != nil {
		return false, fmt.Errorf("features: eligible at %v: %w", cutoff, err)
	}
	if err := f.check(st, tn); err != nil {
		return false, err
	}
	return f.eligible(st, cutoffDay(tn)), nil
}

// eligible is Eligible for a checked State and cutoff day d.
func (f *Featurizer) eligible(st *State, d int32) bool {
	return st.has&hasAct != 0 && d-dayOf(st.lastAct) <= f.elig
}

// vector computes the features of a checked State; lut classifies st's type
// ids. Every sum over cells runs in cell order, and lifetime totals are
// integers, so the result does not depend on the order events were added in
// or on whether st was pruned.
func (f *Featurizer) vector(dst []float64, st *State, tn int64, lut []typeInfo) []float64 {
	start := len(dst)
	dst = slices.Grow(dst, f.dim)[:start+f.dim]
	v := dst[start:]
	clear(v)
	d := cutoffDay(tn)
	nW := f.nW

	var (
		evTotal, ordTotal uint64
		revTotal          int64
		recent, prior     float64 // activity in ages 1..30 and 31..60
		prevActDay        int32
		haveAct           bool
		gapN, gapS, gapSS int64
		prevGap           int64 // the newest gap: last active day minus the one before
		seenBuf           [32]uint16
	)
	seen := seenBuf[:0]
	purDay := int32(math.MinInt32)
	if st.has&hasPur != 0 {
		purDay = dayOf(st.lastPur)
	}
	// Newest cells first, so that a type's first cell is its smallest age.
	for i := len(st.cells) - 1; i >= 0; i-- {
		c := &st.cells[i]
		a := int64(d) - int64(c.day) // >= 1: check rejected events at or after the cutoff
		k := nW
		if a <= int64(f.retention) {
			k = int(f.kOfAge[a])
		}
		info := lut[c.typ]
		n := float64(c.n)
		if info.flags&flagActivity != 0 {
			evTotal += uint64(c.n)
			if a <= 30 {
				recent += n
			} else if a <= trendDays {
				prior += n
			}
			if k < nW {
				v[f.oEvents+k] += n
				if !haveAct || c.day != prevActDay {
					v[f.oActive+k]++
					if haveAct {
						g := int64(prevActDay - c.day)
						if gapN == 0 {
							prevGap = g
						}
						gapN++
						gapS += g
						gapSS += g * g
					}
					prevActDay, haveAct = c.day, true
				}
			}
		}
		if info.flags&flagPurchase != 0 {
			ord := c.n - c.nneg
			ordTotal += uint64(ord)
			revTotal += c.rev
			if k < nW {
				v[f.oOrders+k] += float64(ord)
				v[f.oRev+k] += float64(c.rev)
			}
		}
		if k < nW {
			v[f.oRef+k] += float64(c.ref)
			v[f.oUsage+int(info.col)*nW+k] += n
			if !slices.Contains(seen, c.typ) {
				seen = append(seen, c.typ)
				v[f.oDistinct+k]++
			}
		}
		if info.flags&(flagCart|flagPricing|flagCancel|flagSupport) != 0 && a <= 30 {
			for j, bit := range famBits {
				o := f.famOff[j]
				if info.flags&bit == 0 || o < 0 {
					continue
				}
				if bit == flagCart && c.day <= purDay {
					continue // a purchase on or after this cart day
				}
				if a <= 7 {
					v[o] += n
				}
				v[o+1] += n
			}
		}
	}
	// Window buckets hold the cells whose smallest window is k; make them
	// cumulative (window k holds every age up to Windows[k]).
	cum := func(o int) {
		for k := 1; k < nW; k++ {
			v[o+k] += v[o+k-1]
		}
	}
	cum(f.oEvents)
	cum(f.oActive)
	cum(f.oRev)
	cum(f.oOrders)
	cum(f.oRef)
	for t := 0; t <= len(f.spec.Vocabulary); t++ {
		cum(f.oUsage + t*nW)
	}
	cum(f.oDistinct)
	for k := 0; k < nW; k++ {
		v[f.oRev+k] /= micro
		v[f.oRef+k] /= micro
	}

	noneDays := float64(2 * f.wmax)
	v[0], v[1] = noneDays, noneDays
	if st.has&hasAct != 0 {
		v[0] = float64(tn-st.lastAct) / float64(dayNs)
		v[3] = float64(tn-st.firstAct) / float64(dayNs)
	}
	if st.has&hasPur != 0 {
		v[1] = float64(tn-st.lastPur) / float64(dayNs)
		v[2] = 1
	}
	v[f.oEventsTotal] = float64(st.foldEvents + evTotal)
	orders := st.foldOrders + ordTotal
	revenue := float64(st.foldRevenue+revTotal) / micro
	v[f.oRevTotal] = revenue
	v[f.oRevTotal+1] = float64(orders)
	if orders > 0 {
		v[f.oRevTotal+2] = revenue / float64(orders)
	}
	v[f.oTrend] = (recent + 1) / (prior + 1)
	if gapN > 0 {
		mean := float64(gapS) / float64(gapN)
		v[f.oTrend+1] = mean
		// Population variance from exact integer sums: (n·Σg² − (Σg)²) / n².
		v[f.oTrend+2] = math.Sqrt(float64(gapN*gapSS-gapS*gapS)) / float64(gapN)
	}
	v[f.oTrend+3] = v[0] / max(v[f.oTrend+1], 1)
	v[f.oTrend+4] = float64(prevGap)
	var acts, peak uint32
	hour := 0
	for h, c := range st.hour {
		acts += c
		if c > peak {
			peak, hour = c, h
		}
	}
	if acts > 0 {
		v[f.oWeekend] = float64(st.wday[0]+st.wday[6]) / float64(acts)
	}
	v[f.oWeekend+1] = float64(hour)
	return dst
}

// Vector computes the feature vector of st at cutoff under s. It validates s
// on every call; for many vectors, make a Featurizer once.
func (s *Spec) Vector(st *State, cutoff time.Time) ([]float64, error) {
	f, err := NewFeaturizer(s)
	if err != nil {
		return nil, err
	}
	return f.Vector(st, cutoff)
}
