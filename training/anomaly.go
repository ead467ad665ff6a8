package training

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/lapse-dev/lapse/model"
)

// The anomaly screen is an isolation forest (Liu, Ting and Zhou 2008,
// "Isolation Forest"): each tree splits a random subsample of psi rows on a
// random feature at a uniform random threshold between the feature's
// minimum and maximum in the node, until a row is alone or the depth limit
// ⌈log2 psi⌉ is reached. Unusual rows (bots, test and bulk accounts) are
// isolated in few splits; the score 2^(−E[h(x)]/c(psi)) is near 1 for them
// and near 0.5 or below for ordinary rows.
//
// golearn's trees.IsolationForest implements the same algorithm, and a test
// checks that both flag the same planted outliers, but it draws from the
// global math/rand generator, which cannot be seeded since Go 1.24 (and is
// shared with every other goroutine), so two runs on the same data flag
// different users. lapse promises the same model and report for the same
// data and seed, so the screen uses this seeded implementation instead.

// Anomaly screen defaults.
const (
	// isoTrees is the number of trees of the forest (the paper finds path
	// lengths converge well before 100).
	isoTrees = 50
	// isoSample is psi, the subsample size per tree (the paper's 256).
	isoSample = 256
	// AnomalyThreshold is the isolation score from which a row is flagged.
	AnomalyThreshold = 0.7
	// anomalyMaxShare caps the flagged rows at this share of all rows
	// (the highest scores win), so that a heavy-tailed but legitimate
	// population cannot be flagged wholesale.
	anomalyMaxShare = 0.01
)

// isoNode is one node of an isolation tree; Feature < 0 marks a leaf of
// Size rows.
type isoNode struct {
	Feature     int
	Threshold   float64
	Left, Right int32
	Size        int32
	// Path is avgPath(Size), the expected rest of the path below a leaf.
	Path float64
}

// isoForest is a fitted isolation forest.
type isoForest struct {
	trees [][]isoNode
	psi   int
}

// fitIsoForest grows nTrees trees on subsamples of psi rows of x (all rows
// when fewer), drawn with a PCG stream seeded by seed.
func fitIsoForest(x *Matrix, nTrees, psi int, seed uint64) *isoForest {
	psi = min(psi, x.Rows)
	f := &isoForest{psi: psi, trees: make([][]isoNode, nTrees)}
	if psi == 0 {
		return f
	}
	limit := int(math.Ceil(math.Log2(float64(max(psi, 2)))))
	for t := range f.trees {
		rng := rand.New(rand.NewPCG(seed, uint64(t)+0x9e3779b97f4a7c15))
		idx := make([]int, psi)
		for i := range idx {
			idx[i] = rng.IntN(x.Rows)
		}
		var nodes []isoNode
		var grow func(rows []int, depth int) int32
		grow = func(rows []int, depth int) int32 {
			k := int32(len(nodes))
			nodes = append(nodes, isoNode{Feature: -1, Size: int32(len(rows)), Path: avgPath(float64(len(rows)))})
			if depth >= limit || len(rows) <= 1 {
				return k
			}
			// Features that vary in this node, in column order.
			var varying []int
			lo := make([]float64, x.Cols)
			hi := make([]float64, x.Cols)
			for j := range x.Cols {
				lo[j], hi[j] = math.Inf(1), math.Inf(-1)
			}
			for _, r := range rows {
				for j, v := range x.Row(r) {
					lo[j] = min(lo[j], v)
					hi[j] = max(hi[j], v)
				}
			}
			for j := range x.Cols {
				if hi[j] > lo[j] {
					varying = append(varying, j)
				}
			}
			if len(varying) == 0 {
				return k
			}
			j := varying[rng.IntN(len(varying))]
			thr := lo[j] + rng.Float64()*(hi[j]-lo[j])
			var left, right []int
			for _, r := range rows {
				if x.At(r, j) < thr {
					left = append(left, r)
				} else {
					right = append(right, r)
				}
			}
			l := grow(left, depth+1)
			rr := grow(right, depth+1)
			nodes[k] = isoNode{Feature: j, Threshold: thr, Left: l, Right: rr, Size: int32(len(rows))}
			return k
		}
		grow(idx, 0)
		f.trees[t] = nodes
	}
	return f
}

// avgPath is c(n), the average path length of an unsuccessful search in a
// binary search tree of n nodes: the normaliser of the isolation score.
func avgPath(n float64) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	return 2*(math.Log(n-1)+0.5772156649015329) - 2*(n-1)/n
}

// score returns the isolation score of one row, in (0, 1].
func (f *isoForest) score(row []float64) float64 {
	if len(f.trees) == 0 || f.psi < 2 {
		return 0.5
	}
	sum := 0.0
	for _, nodes := range f.trees {
		k, depth := int32(0), 0.0
		for nodes[k].Feature >= 0 {
			n := nodes[k]
			if row[n.Feature] < n.Threshold {
				k = n.Left
			} else {
				k = n.Right
			}
			depth++
		}
		sum += depth + nodes[k].Path
	}
	return math.Pow(2, -sum/float64(len(f.trees))/avgPath(float64(f.psi)))
}

// scores returns the score of every row of x, using workers goroutines:
// score's numbers, bit for bit. Each isolation tree is handed to
// model.Trees.Margins, which walks blocks of rows four at a time without
// branching on the data: a leaf's value is its depth plus its c(size), so
// a row's margin is its summed path length; a split's threshold is moved
// down to the float below it, since Margins sends v left when v <= t and
// score when v < t (thresholds lie between two sample values, so they are
// finite).
func (f *isoForest) scores(x *Matrix, workers int) []float64 {
	out := make([]float64, x.Rows)
	if len(f.trees) == 0 || f.psi < 2 {
		for i := range out {
			out[i] = 0.5
		}
		return out
	}
	trees := &model.Trees{Format: model.TreesFormat, NumFeatures: x.Cols, Trees: make([]model.Tree, len(f.trees))}
	for t, nodes := range f.trees {
		trees.Trees[t] = model.Tree{Nodes: isoModelNodes(nodes)}
	}
	norm := float64(len(f.trees)) // the mean path is sum / trees
	c := avgPath(float64(f.psi))
	gbParallel(workers, (x.Rows+rawChunk-1)/rawChunk, func(k int) {
		lo, hi := k*rawChunk, min((k+1)*rawChunk, x.Rows)
		rows := make([][]float64, hi-lo)
		for i := range rows {
			rows[i] = x.Row(lo + i)
		}
		sum := out[lo:hi]
		trees.Margins(rows, sum)
		for i, s := range sum {
			sum[i] = math.Pow(2, -s/norm/c)
		}
	})
	return out
}

// isoModelNodes converts an isolation tree for scores: the same shape, the
// leaves valued at their depth plus their c(size), the thresholds moved
// to the float below.
func isoModelNodes(nodes []isoNode) []model.Node {
	out := make([]model.Node, len(nodes))
	var walk func(k int32, depth int)
	walk = func(k int32, depth int) {
		n := &nodes[k]
		if n.Feature < 0 {
			out[k] = model.Node{Feature: -1, Left: -1, Right: -1, Value: float64(depth) + n.Path}
			return
		}
		out[k] = model.Node{Feature: n.Feature, Threshold: math.Nextafter(n.Threshold, math.Inf(-1)), Left: int(n.Left), Right: int(n.Right)}
		walk(n.Left, depth+1)
		walk(n.Right, depth+1)
	}
	walk(0, 0)
	return out
}

// flagAnomalies returns the indices of the rows to flag: score at least
// threshold, at most maxShare of the rows (highest scores first, ties by
// index), in ascending index order.
func flagAnomalies(scores []float64, threshold, maxShare float64) []int {
	var idx []int
	for i, s := range scores {
		if s >= threshold {
			idx = append(idx, i)
		}
	}
	limit := int(maxShare * float64(len(scores)))
	if len(idx) > limit {
		slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
		idx = idx[:limit]
		slices.Sort(idx)
	}
	return idx
}

// parallelRows calls fn on contiguous row ranges covering [0, n) from up to
// workers goroutines. The ranges are fixed by n and workers only.
func parallelRows(n, workers int, fn func(lo, hi int)) {
	workers = max(1, min(workers, n/1024+1))
	if workers == 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}
