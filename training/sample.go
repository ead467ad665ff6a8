package training

import "slices"

// Keys mixed into the seed for the user-hash samples, so that each sample
// is independent of the user roles (userRole) and of the others.
const (
	// fitSampleKey keys the subsample of oversized fitting sets (capRefs).
	fitSampleKey = 0x5bd1e9955bd1e995
	// evalSampleKey keys the subsample of oversized evaluation sets
	// (evalSample): "evalsamp".
	evalSampleKey = 0x6576616c73616d70
	// lrTuneKey keys the rows the logistic λ is tuned on (lrTuneSample):
	// "lrtunerw".
	lrTuneKey = 0x6c7274756e657277
)

// DefaultMaxEvalRows caps the rows of every evaluation set (out of time,
// held-out users, backtests and their baselines, the P(alive) ablation).
// Larger sets are subsampled by user hash (evalSample). With 200,000 rows
// and a base rate between 10% and 90% the standard error of an AUC is
// about 0.001 and that of a log loss about 0.002 (relative), well below
// the differences the report is read for, while scoring and ranking a
// million-row snapshot costs several times as much.
const DefaultMaxEvalRows = 200_000

// backtestMaxFitRows caps the fitting rows of each backtest refit (and
// Config.MaxFitRows when smaller): the backtest is a check that quality is
// stable over time, and its refits should not cost as much as the
// production fit.
const backtestMaxFitRows = 100_000

// capRefs subsamples refs to about limit rows (none when limit < 0 or
// there are at most limit), keeping whole users: a row is kept when its
// user's hash under the fitting-sample key is below limit/len(refs). The
// order of refs is kept.
func (tr *trainer) capRefs(refs []rowRef, limit int) []rowRef {
	if limit < 0 || len(refs) <= limit {
		return refs
	}
	share := float64(limit) / float64(len(refs))
	out := make([]rowRef, 0, limit+limit/16)
	for _, ref := range refs {
		if userUnit(userID(tr.snaps, ref), tr.cfg.Seed^fitSampleKey) < share {
			out = append(out, ref)
		}
	}
	return out
}

// evalRefs returns the rows of refs to evaluate on: all of them when there
// are at most Config.MaxEvalRows (or it is negative), otherwise
// evalSample's MaxEvalRows of them, in the order of refs.
func (tr *trainer) evalRefs(refs []rowRef) []rowRef {
	idx := evalSample(len(refs), tr.cfg.MaxEvalRows, tr.cfg.Seed, func(i int) string { return userID(tr.snaps, refs[i]) })
	if idx == nil {
		return refs
	}
	out := make([]rowRef, len(idx))
	for k, i := range idx {
		out[k] = refs[i]
	}
	return out
}

// evalSample chooses limit of n rows, the user ids of which id returns: the
// rows whose users' hashes (userUnit under seed and the evaluation-sample
// key) are smallest, ties going to the lower index, so that the sample is
// the same for the same ids and seed whatever the number of workers, and
// holds the rows of whole users but for at most one. It returns the chosen
// indices in increasing order, or nil (meaning every row) when limit < 0
// or n <= limit.
func evalSample(n, limit int, seed uint64, id func(i int) string) []int {
	if limit < 0 || n <= limit {
		return nil
	}
	u := make([]float64, n)
	for i := range u {
		u[i] = userUnit(id(i), seed^evalSampleKey)
	}
	sorted := slices.Clone(u)
	slices.Sort(sorted)
	thr := sorted[limit-1]
	// Every row below thr is kept; rows at thr fill the rest in index order.
	ties := limit
	for _, v := range sorted[:limit] {
		if v < thr {
			ties--
		}
	}
	idx := make([]int, 0, limit)
	for i, v := range u {
		switch {
		case v < thr:
			idx = append(idx, i)
		case v == thr && ties > 0:
			idx = append(idx, i)
			ties--
		}
	}
	return idx
}
